from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from . import selectors
from .exceptions import WalletError
from .ledger import account_balance
from .models import (
    Account,
    CoinPackage,
    Entry,
    Price,
    Recharge,
    RechargeStatusChange,
    SpendingLimit,
    Transaction,
    Unit,
    WebhookEvent,
)
from .money import format_money
from .services import adjustment_post, wallet_unfreeze


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is append-only: staff look, and correct only through an adjustment."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows of a record's history: shown, never added to or edited in admin."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ("account", "amount")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "reference", "memo", "created_by", "created_at")
    list_filter = ("kind", "created_at")
    search_fields = ("idempotency_key", "reference", "memo")
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "transaction", "account", "amount")
    list_select_related = ("transaction", "account")
    search_fields = ("account__owner__email", "transaction__reference")
    raw_id_fields = ("transaction", "account")


class AdjustmentForm(forms.Form):
    email = forms.EmailField(label="User's email")
    unit = forms.ChoiceField(choices=Unit.choices)
    amount = forms.IntegerField(help_text="Positive credits the user; negative debits them.")
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. Shown in the ledger and the user's statement.",
    )
    key = forms.CharField(widget=forms.HiddenInput)

    def clean_email(self):
        user = get_user_model().objects.filter(email__iexact=self.cleaned_data["email"]).first()
        if user is None:
            raise forms.ValidationError("No user with that email.")
        self.cleaned_data["user"] = user
        return self.cleaned_data["email"]

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError("Adjust by a non-zero amount.")
        return self.cleaned_data["amount"]

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "unit", "purpose", "current_balance", "frozen")
    list_filter = ("unit", "purpose", "frozen")
    search_fields = ("owner__email", "owner__profile__handle")
    list_select_related = ("owner",)
    readonly_fields = (
        "owner",
        "unit",
        "purpose",
        "balance",
        "settled_balance",
        "settled_through",
        "frozen",
        "frozen_reason",
    )
    actions = ["unfreeze"]
    change_list_template = "admin/wallet/account/change_list.html"

    @admin.display(description="Balance")
    def current_balance(self, obj: Account) -> int:
        return account_balance(obj)

    @admin.action(description="Unfreeze the selected wallets (after review)")
    def unfreeze(self, request, queryset):
        for account in queryset.filter(frozen=True).select_related("owner"):
            wallet_unfreeze(user=account.owner, staff=request.user, note="admin action")
        self.message_user(request, "Unfrozen.", messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="wallet_account_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request):
        if not request.user.has_perm("wallet.add_transaction") and not request.user.is_superuser:
            raise PermissionDenied
        form = AdjustmentForm(
            request.POST if request.method == "POST" else None,
            initial={"key": f"adjustment:{uuid.uuid4()}"},
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                txn = adjustment_post(
                    owner=data["user"],
                    unit=data["unit"],
                    amount=data["amount"],
                    reason=data["reason"],
                    staff=request.user,
                    key=data["key"],
                )
            except WalletError as exc:
                form.add_error(None, str(exc))
            else:
                note = " (already posted: this form was sent twice)" if txn.replayed else ""
                self.message_user(request, f"Posted adjustment #{txn.pk}{note}.", messages.SUCCESS)
                return redirect(reverse("admin:wallet_transaction_change", args=[txn.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Adjust a balance",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallet/account/adjust.html", context)


class PriceFormSet(forms.BaseInlineFormSet):
    """A package's prices are refused when, with the package as posted (coins, bonus,
    active), they would make a bigger package dearer per coin than a smaller one in their
    currency (DESIGN §2: bulk is never worse value); nothing is saved then."""

    def clean(self):
        super().clean()
        package = self.instance
        if not package.active or any(form.errors for form in self.forms):
            return
        problems = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or not data.get("amount_minor"):
                continue
            currency = data["currency"]
            ladder = selectors.package_ladder(currency=currency, without=package)
            ladder.append((package.total_coins, data["amount_minor"], str(package)))
            problems += selectors.ladder_problems(currency, ladder)
        if problems:
            raise forms.ValidationError(
                ["Bulk must never be worse value; these prices would break it:", *problems]
            )


def money_or_none(amount_minor: int | None, currency: str, *, none: str = "—") -> str:
    """An amount in minor units as people read it ("$6.49", "¥980"), or `none`."""
    if amount_minor is None or not currency:
        return none
    return format_money(amount_minor, currency)


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ("currency", "amount_minor")
        labels = {"amount_minor": "Price in minor units"}
        help_texts = {"amount_minor": "Cents for USD, pence for GBP, whole yen for JPY."}


class PriceInline(admin.TabularInline):
    model = Price
    form = PriceForm
    formset = PriceFormSet
    extra = 1
    readonly_fields = ("price",)

    @admin.display(description="Price")
    def price(self, obj: Price) -> str:
        return money_or_none(obj.amount_minor, obj.currency) if obj.pk else "—"


@admin.register(CoinPackage)
class CoinPackageAdmin(admin.ModelAdmin):
    """Packages and their prices. Turning a package on, or changing a price, is checked
    against the bulk rule on the package's page (so `active` isn't editable in the list)."""

    list_display = ("__str__", "coins", "bonus_coins", "prices_shown", "active", "sort_order")
    list_editable = ("sort_order",)
    inlines = [PriceInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("prices")

    @admin.display(description="Prices")
    def prices_shown(self, package: CoinPackage) -> str:
        prices = sorted(package.prices.all(), key=lambda p: p.currency)
        return " · ".join(format_money(p.amount_minor, p.currency) for p in prices) or "—"


class StatusChangeInline(ReadOnlyInline):
    model = RechargeStatusChange
    fields = ("created_at", "from_status", "to_status", "event_id", "note")


@admin.register(Recharge)
class RechargeAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "coins",
        "amount",
        "status",
        "status_words",
        "needs_review",
        "created_at",
    )
    list_filter = ("status", "needs_review", "provider", "currency")
    search_fields = ("user__email", "provider_session_id", "payment_intent_id")
    list_select_related = ("user",)
    readonly_fields = (
        "user",
        "package",
        "coins",
        "amount",
        "provider",
        "provider_session_id",
        "payment_intent_id",
        "checkout_url",
        "status",
        "status_words",
        "declined_at",
        "decline_message",
        "review_note",
        "created_at",
        "paid_at",
    )
    fields = readonly_fields[:-2] + ("needs_review",) + readonly_fields[-2:]
    inlines = [StatusChangeInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="What happened")
    def status_words(self, obj: Recharge) -> str:
        return obj.status_words

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, obj: Recharge) -> str:
        return format_money(obj.amount_minor, obj.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "status", "note", "received_at")
    list_filter = ("status", "type")
    search_fields = ("event_id", "payment_intent")


@admin.register(SpendingLimit)
class SpendingLimitAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "limit", "pending", "pending_from")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    readonly_fields = ("user", "kind", "limit", "pending", "pending_from", "updated_at")
    fields = readonly_fields

    @admin.display(description="Limit", ordering="amount_minor")
    def limit(self, obj: SpendingLimit) -> str:
        return money_or_none(obj.amount_minor, obj.currency, none="No limit")

    @admin.display(description="Pending change")
    def pending(self, obj: SpendingLimit) -> str:
        if obj.pending_from is None:
            return "—"
        return money_or_none(obj.pending_amount_minor, obj.pending_currency, none="No limit")
