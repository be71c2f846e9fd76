from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from . import services
from .models import Follow, Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fk_name = "user"
    readonly_fields = (
        "creator_exception",
        "creator_exception_granted_by",
        "creator_exception_granted_at",
    )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "handle", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "profile__handle", "profile__display_name")
    list_select_related = ("profile",)
    inlines = [ProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(description="Handle", ordering="profile__handle")
    def handle(self, obj: User) -> str:
        return f"@{obj.profile.handle}" if hasattr(obj, "profile") else "—"


class FollowerCountFilter(admin.SimpleListFilter):
    title = "followers"
    parameter_name = "followers"

    def lookups(self, request, model_admin):
        return [("lt1000", "Fewer than 1,000"), ("gte1000", "1,000 or more")]

    def queryset(self, request, queryset):
        if self.value() == "lt1000":
            return queryset.filter(follower_total__lt=1000)
        if self.value() == "gte1000":
            return queryset.filter(follower_total__gte=1000)
        return queryset


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = (
        "handle",
        "display_name",
        "user",
        "country",
        "birth_date",
        "follower_total",
        "creator_exception",
    )
    list_filter = ("creator_exception", FollowerCountFilter, "country")
    search_fields = ("handle", "display_name", "user__email")
    list_select_related = ("user",)
    readonly_fields = (
        "creator_exception",
        "creator_exception_granted_by",
        "creator_exception_granted_at",
        "created_at",
        "updated_at",
    )
    actions = ["grant_creator_exception", "revoke_creator_exception"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(follower_total=Count("user__follower_set"))

    @admin.display(description="Followers", ordering="follower_total")
    def follower_total(self, obj: Profile) -> int:
        return obj.follower_total

    @admin.action(description="Grant the creator exception (waive the follower minimum)")
    def grant_creator_exception(self, request, queryset):
        for profile in queryset:
            services.creator_exception_set(profile=profile, granted=True, by=request.user)
        self.message_user(
            request,
            f"Granted the creator exception to {queryset.count()} profile(s).",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke the creator exception")
    def revoke_creator_exception(self, request, queryset):
        for profile in queryset:
            services.creator_exception_set(profile=profile, granted=False, by=request.user)
        self.message_user(
            request,
            f"Revoked the creator exception of {queryset.count()} profile(s).",
            messages.SUCCESS,
        )


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("follower", "followee", "created_at")
    search_fields = (
        "follower__email",
        "follower__profile__handle",
        "followee__email",
        "followee__profile__handle",
    )
    list_filter = ("created_at",)
    list_select_related = ("follower", "followee")
    raw_id_fields = ("follower", "followee")
    date_hierarchy = "created_at"
