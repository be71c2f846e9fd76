from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import selectors
from .exceptions import WalletError
from .forms import LimitsForm, RechargeForm, SimulatedCardForm
from .limits import limit_set, limits_for
from .models import LimitKind, Recharge, RechargeStatus
from .money import format_money, to_major
from .payments import (
    SIMULATED_DECLINE_CARD,
    SIMULATED_PAY_CARD,
    SimulatedProvider,
    payments_are_test_mode,
    sign_payload,
    simulated_in_force,
)
from .services import recharge_create, recharge_decline, recharge_sync
from .services import recharge_refund as recharge_refund_service
from .webhooks import webhook_receive

SIMULATED_CLOSED = (
    "This test checkout is closed: the site no longer takes simulated payments. Nothing was "
    "charged and no coins were added; start a new recharge to buy coins."
)


def _money_context(user) -> dict:
    """The fan's pricing currency, locale and coin value, worked out once per page."""
    value = selectors.coin_value(user=user)
    return {"currency": value.currency, "locale": value.locale, "coin_value": value}


@login_required
def balance(request: HttpRequest) -> HttpResponse:
    user = request.user
    coins = selectors.coin_balance(user=user)
    context = {
        **_money_context(user),
        "coins": coins,
        "frozen": selectors.wallet_is_frozen(user=user),
        "recent": selectors.recharge_history(user=user)[:5],
        "has_earnings": selectors.has_earnings(user=user),
    }
    return render(request, "wallet/balance.html", context)


@login_required
def recharge(request: HttpRequest) -> HttpResponse:
    user = request.user
    money = _money_context(user)
    currency = money["currency"]
    low, high = selectors.custom_limits()
    form = RechargeForm(request.POST if request.method == "POST" else None, low=low, high=high)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = recharge_create(
                    user=user,
                    currency=currency,
                    package=form.cleaned_data["package_obj"],
                    custom_coins=form.cleaned_data["custom_coins"],
                    success_url=request.build_absolute_uri("/wallet/recharge/RECHARGE_ID/success/"),
                    cancel_url=request.build_absolute_uri("/wallet/recharge/RECHARGE_ID/cancel/"),
                )
            except WalletError as exc:
                form.add_error(None, str(exc))
            else:
                # 303: the browser follows with a GET to the hosted checkout.
                response = redirect(created.checkout_url)
                response.status_code = 303
                return response
        status = 400
    offers = selectors.offers_for(currency=currency)
    best = selectors.best_rate_minor(currency=currency)
    context = {
        **money,
        "form": form,
        "offers": offers,
        "coins": selectors.coin_balance(user=user),
        "frozen": selectors.wallet_is_frozen(user=user),
        "custom_low": low,
        "custom_high": high,
        "custom_rate": best,
        "refund_hours": settings.RECHARGE_REFUND_HOURS,
        "test_payments": payments_are_test_mode(),
    }
    return render(request, "wallet/recharge.html", context, status=status)


def _own_recharge(request: HttpRequest, pk: int) -> Recharge:
    # Someone else's recharge is indistinguishable from a missing one.
    return get_object_or_404(Recharge, pk=pk, user=request.user)


@login_required
def recharge_success(request: HttpRequest, pk: int) -> HttpResponse:
    recharge_obj = recharge_sync(recharge=_own_recharge(request, pk))
    context = {
        **_money_context(request.user),
        "recharge": recharge_obj,
        "coins": selectors.coin_balance(user=request.user),
        "test_payments": payments_are_test_mode(),
    }
    return render(request, "wallet/recharge_result.html", context)


@login_required
def recharge_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    recharge_obj = _own_recharge(request, pk)
    context = {
        **_money_context(request.user),
        "recharge": recharge_obj,
        "cancelled": True,
        "coins": selectors.coin_balance(user=request.user),
        "test_payments": payments_are_test_mode(),
    }
    return render(request, "wallet/recharge_result.html", context)


@login_required
def simulated_checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """The embedded default's stand-in for Stripe's hosted checkout page.

    Only while the simulated provider is the one in force: a checkout opened before the
    operator switched to Stripe cannot be paid with a test card afterwards.
    """
    recharge_obj = get_object_or_404(
        Recharge, provider_session_id=session_id, provider=SimulatedProvider.name, user=request.user
    )
    if not simulated_in_force():
        context = {
            **_money_context(request.user),
            "recharge": recharge_obj,
            "closed": SIMULATED_CLOSED,
        }
        return render(request, "wallet/simulated_checkout.html", context, status=410)
    if recharge_obj.status != RechargeStatus.PENDING:
        return redirect("wallet:recharge_success", pk=recharge_obj.pk)
    form = SimulatedCardForm(request.POST if request.method == "POST" else None)
    declined = False
    if request.method == "POST" and form.is_valid():
        number = form.cleaned_data["number"]
        if number == SIMULATED_PAY_CARD:
            payload = SimulatedProvider.completed_event(recharge_obj)
            webhook_receive(payload=payload.encode(), signature=sign_payload(payload))
            return redirect("wallet:recharge_success", pk=recharge_obj.pk)
        if number == SIMULATED_DECLINE_CARD:
            declined = True
            recharge_decline(recharge_id=recharge_obj.pk, message="Your card was declined.")
            form.add_error(None, "Your card was declined. Try another card.")
        else:
            form.add_error(
                "number",
                "Use a test card: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.",
            )
    context = {
        **_money_context(request.user),
        "recharge": recharge_obj,
        "form": form,
        "declined": declined,
        "cancel_url": reverse("wallet:recharge_cancel", args=[recharge_obj.pk]),
        "test_payments": True,
    }
    return render(
        request, "wallet/simulated_checkout.html", context, status=402 if declined else 200
    )


@login_required
def history(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.recharge_history(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    context = {
        **_money_context(request.user),
        "page": page,
        "refundable": selectors.refundable_ids(user=request.user, recharges=page.object_list),
        "refund_hours": settings.RECHARGE_REFUND_HOURS,
    }
    return render(request, "wallet/history.html", context)


@login_required
@require_POST
def recharge_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """The fan refunds a purchase themselves (within the window, coins unspent)."""
    try:
        recharge_obj = recharge_refund_service(user=request.user, recharge_id=pk)
    except Recharge.DoesNotExist:
        raise Http404 from None
    except WalletError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Refunded: {recharge_obj.coins:,} coins left your wallet and "
            f"{format_money(recharge_obj.amount_minor, recharge_obj.currency)} goes back to your card.",
        )
    return redirect("wallet:history")


@login_required
def history_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="giftcast-purchases.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["id", "created_utc", "coins", "amount", "currency", "status", "what_happened", "paid_utc"]
    )
    for r in selectors.recharge_history(user=request.user).iterator():
        writer.writerow([
            r.pk, r.created_at.isoformat(), r.coins, str(to_major(r.amount_minor, r.currency)),
            r.currency, r.status, r.status_words, r.paid_at.isoformat() if r.paid_at else "",
        ])  # fmt: skip
    return response


@login_required
def statement(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.statement(user=request.user), 50).get_page(request.GET.get("page"))
    context = {
        **_money_context(request.user),
        "page": page,
        "coins": selectors.coin_balance(user=request.user),
    }
    return render(request, "wallet/statement.html", context)


@login_required
def limits(request: HttpRequest) -> HttpResponse:
    user = request.user
    money = _money_context(user)
    currency = money["currency"]
    states = limits_for(user=user, currency=currency)
    form = LimitsForm(
        request.POST if request.method == "POST" else None, currency=currency,
        initial_minor={kind: state.amount_minor for kind, state in states.items()},
        locale=money["locale"],
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            for kind, amount in form.changed_minor_amounts().items():
                limit_set(user=user, kind=kind, currency=currency, amount_minor=amount)
        except WalletError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, "Limits saved. Lower limits apply now; higher ones in 24 hours."
            )
            return redirect("wallet:limits")
    context = {**money, "form": form, "states": [states[k] for k in LimitKind]}
    return render(request, "wallet/limits.html", context, status=400 if form.errors else 200)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    result = webhook_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature")
    )
    return HttpResponse(result.message, status=result.status_code, content_type="text/plain")
