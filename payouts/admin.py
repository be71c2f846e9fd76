"""Staff's payout queue: every action goes through payouts.services' transition service."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from wallet.admin import ReadOnlyInline
from wallet.money import format_money

from . import selectors, services
from .exceptions import PayoutError
from .models import (
    TRANSITIONS,
    ExchangeRate,
    Payout,
    PayoutMethod,
    PayoutStatus,
    PayoutStatusChange,
    PayoutTerms,
    StripeAccount,
)


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    CHOICES = {"1": ("Older than 1 day", 1), "3": ("Older than 3 days", 3),
               "7": ("Older than 7 days", 7)}  # fmt: skip

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.CHOICES.items()]

    def queryset(self, request, queryset: QuerySet[Payout]):
        choice = self.CHOICES.get(self.value() or "")
        if choice is None:
            return queryset
        return queryset.filter(created_at__lt=timezone.now() - dt.timedelta(days=choice[1]))


class HistoryInline(ReadOnlyInline):
    model = PayoutStatusChange
    fields = ("created_at", "from_status", "to_status", "by", "note")


class PayoutActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", "Approve"), ("paid", "Mark paid"), ("reject", "Reject")]
    )
    reference = forms.CharField(max_length=255, required=False)
    note = forms.CharField(max_length=300, required=False)


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = (
        "id", "creator", "status", "diamonds_shown", "cash", "method", "created_at",
        "earnings", "risks",
    )  # fmt: skip
    list_filter = ("status", AgeFilter, "provider")
    list_select_related = ("creator__profile", "method")
    search_fields = ("creator__email", "creator__profile__handle", "provider_reference")
    ordering = ("created_at",)
    list_per_page = 25
    readonly_fields = (
        "creator", "status", "diamonds_shown", "cash", "method", "provider",
        "provider_reference", "key", "note", "created_at", "updated_at", "paid_at",
        "earnings", "risks",
    )  # fmt: skip
    fields = readonly_fields
    inlines = [HistoryInline]
    actions = ["approve_selected"]
    change_form_template = "admin/payouts/payout/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="diamonds", ordering="diamonds")
    def diamonds_shown(self, payout: Payout) -> str:
        return f"{payout.diamonds:,}"

    @admin.display(description="cash", ordering="amount_minor")
    def cash(self, payout: Payout) -> str:
        return format_money(payout.amount_minor, payout.currency)

    @admin.display(description="creator's earnings (diamonds)")
    def earnings(self, payout: Payout) -> str:
        summary = selectors.earnings_summary(creator=payout.creator)
        return (
            f"available {summary.available:,} · clearing {summary.clearing:,} · "
            f"held {summary.held:,} · paid out {summary.lifetime_paid:,} of "
            f"{summary.lifetime_earned:,} earned"
        )

    @admin.display(description="risk flags")
    def risks(self, payout: Payout):
        flags = selectors.risk_flags(payout=payout)
        if not flags:
            return "—"
        return format_html_join(
            " ", '<span class="risk-flag" title="{}">⚠ {}</span>',
            ((flag.code, flag.label) for flag in flags),
        )  # fmt: skip

    def get_urls(self):
        return [
            path(
                "<int:pk>/act/",
                self.admin_site.admin_view(require_POST(self.act_view)),
                name="payouts_payout_act",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payout = get_object_or_404(Payout, pk=object_id)
        allowed = TRANSITIONS.get(payout.status, frozenset())
        extra_context = {
            **(extra_context or {}),
            "can_approve": PayoutStatus.APPROVED in allowed,
            "can_pay": PayoutStatus.PAID in allowed,
            "can_reject": PayoutStatus.REJECTED in allowed,
            "own_payout": payout.creator_id == request.user.pk,
            "act_url": reverse("admin:payouts_payout_act", args=[payout.pk]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def act_view(self, request, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = PayoutActionForm(request.POST)
        back = reverse("admin:payouts_payout_change", args=[pk])
        if not form.is_valid():
            messages.error(request, "Choose an action.")
            return redirect(back)
        action = form.cleaned_data["action"]
        try:
            if action == "approve":
                payout = services.payout_approve(payout_id=pk, by=request.user)
            else:
                payout = services.payout_transition(
                    payout_id=pk,
                    to=PayoutStatus.PAID if action == "paid" else PayoutStatus.REJECTED,
                    by=request.user,
                    note=form.cleaned_data["note"],
                    reference=form.cleaned_data["reference"],
                )
        except PayoutError as exc:
            messages.error(request, str(exc))
            return redirect(back)
        messages.success(request, f"Payout #{payout.pk} is {payout.get_status_display().lower()}.")
        return redirect(back)

    @admin.action(description="Approve selected payouts")
    def approve_selected(self, request, queryset):
        done = 0
        for payout in queryset.order_by("pk"):
            try:
                services.payout_approve(payout_id=payout.pk, by=request.user)
            except PayoutError as exc:
                messages.error(request, format_html("Payout #{}: {}", payout.pk, exc))
            else:
                done += 1
        if done:
            messages.success(request, f"Approved {done} payout{'s' if done != 1 else ''}.")


@admin.register(PayoutMethod)
class PayoutMethodAdmin(admin.ModelAdmin):
    list_display = ("creator", "masked", "active", "created_at", "retired_at")
    list_filter = ("kind", "active")
    search_fields = ("creator__email", "creator__profile__handle")
    list_select_related = ("creator",)
    readonly_fields = (
        "creator", "kind", "paypal_email", "bank_holder", "iban", "bic", "active",
        "created_at", "retired_at",
    )  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeAccount)
class StripeAccountAdmin(admin.ModelAdmin):
    """What Stripe last said of each creator's Connect account (account.updated); Stripe's
    dashboard is where it changes, so here it is only read."""

    list_display = ("creator", "account_id", "payouts_enabled", "details_submitted", "updated_at")
    list_filter = ("payouts_enabled", "details_submitted")
    search_fields = ("creator__email", "creator__profile__handle", "account_id")
    list_select_related = ("creator",)
    readonly_fields = (
        "creator", "account_id", "payouts_enabled", "details_submitted", "created_at",
        "updated_at",
    )  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PayoutTermsForm(forms.ModelForm):
    class Meta:
        model = PayoutTerms
        fields = ("creator", "minimum_usd", "reason")


@admin.register(PayoutTerms)
class PayoutTermsAdmin(admin.ModelAdmin):
    form = PayoutTermsForm
    list_display = ("creator", "minimum", "reason", "set_by", "set_at")
    raw_id_fields = ("creator",)
    search_fields = ("creator__email", "creator__profile__handle")

    @admin.display(description="Payout minimum", ordering="minimum_usd")
    def minimum(self, terms: PayoutTerms) -> str:
        return format_money(selectors.usd_cents(terms.minimum_usd), "USD")

    def save_model(self, request, obj, form, change):
        services.payout_minimum_set(
            creator=obj.creator, minimum_usd=obj.minimum_usd, reason=obj.reason, by=request.user
        )


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "per_usd", "updated_at")
    search_fields = ("currency",)
