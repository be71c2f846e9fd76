from django.contrib import admin, messages

from .exceptions import RoomError
from .models import ChatMessage, Gift, RoomBan, SentGift, Stream
from .services import stream_end


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "creator", "status", "started_at", "ended_at", "peak_viewers")
    list_filter = ("status",)
    search_fields = ("title", "creator__email", "creator__profile__handle")
    list_select_related = ("creator",)
    readonly_fields = (
        "creator",
        "status",
        "started_at",
        "ended_at",
        "peak_viewers",
        "overlay_token",
    )
    actions = ["end_streams"]

    @admin.action(description="End the selected live streams")
    def end_streams(self, request, queryset):
        ended = 0
        for stream in queryset.filter(status="live"):
            try:
                stream_end(stream=stream, by=request.user)
                ended += 1
            except RoomError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        self.message_user(request, f"Ended {ended} stream(s).", messages.SUCCESS)


@admin.register(Gift)
class GiftAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "coins", "active", "sort_order")
    list_editable = ("active", "sort_order")
    search_fields = ("name", "slug")


@admin.register(SentGift)
class SentGiftAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "stream",
        "sender",
        "gift",
        "quantity",
        "coins",
        "diamonds",
        "anonymous",
        "created_at",
    )
    list_filter = ("gift", "anonymous")
    search_fields = ("sender__email", "stream__title", "key")
    list_select_related = ("stream", "sender", "gift")
    raw_id_fields = ("stream", "sender")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("stream", "user", "text", "created_at")
    search_fields = ("text", "user__email")
    list_select_related = ("stream", "user")
    raw_id_fields = ("stream", "user")


@admin.register(RoomBan)
class RoomBanAdmin(admin.ModelAdmin):
    list_display = ("creator", "user", "kind", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("creator__email", "user__email")
    raw_id_fields = ("creator", "user", "created_by")
