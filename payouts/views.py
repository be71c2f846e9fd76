from __future__ import annotations

import csv
from fractions import Fraction

from allauth.account.decorators import reauthentication_required
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import creator_eligibility

from . import selectors, services
from .exceptions import PayoutError, PayoutNotAllowed
from .forms import PayoutMethodForm, PayoutRequestForm
from .models import PayoutMethodKind
from .providers import StripeConnectProvider, get_provider
from .webhooks import connect_webhook_receive

STREAMS_PER_PAGE = 10


def creator_required(view):
    """Signed in (else to log in) and a creator (else the checklist of what is missing)."""

    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        eligibility = creator_eligibility(user=request.user)
        if not eligibility.eligible:
            return render(
                request,
                "accounts/become_creator.html",
                {"eligibility": eligibility, "payouts_locked": True},
            )
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _cash_context(user) -> dict:
    cash = selectors.cash_view(user=user)
    return {"cash": cash, "locale": cash.locale}


def _share_words() -> dict:
    """The share as "every N coins earn you M diamonds", and the catalogue's dearest gift."""
    share = Fraction(str(settings.CREATOR_SHARE))
    gift, diamonds = selectors.lion_example()
    quote = selectors.payout_quote(diamonds)
    return {
        "share_coins": share.denominator,
        "share_diamonds": share.numerator,
        "example_gift": gift,
        "example_diamonds": diamonds,
        "example_quote": quote,
    }


@creator_required
def dashboard(request: HttpRequest) -> HttpResponse:
    creator = request.user
    now = timezone.now()
    with selectors.one_snapshot():  # tallies, mark and tail as of one moment
        records = selectors.gift_records(creator=creator)
        page = Paginator(selectors.stream_history(creator=creator), STREAMS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        selectors.stream_figures(records=records, streams=list(page.object_list))
        context = {
            **_cash_context(creator),
            **_share_words(),
            "earnings": selectors.earnings_summary(creator=creator, now=now),
            "daily": selectors.daily_earnings(records=records, now=now),
            "page": page,
            "supporters": selectors.top_supporters(records=records),
            "supporters_30": selectors.top_supporters(records=records, days=30, now=now),
            "clearing_days": settings.PAYOUT_CLEARING_DAYS,
        }
    return render(request, "payouts/dashboard.html", context)


class _Echo:
    """A file-like object whose write returns the line, for streaming csv rows."""

    def write(self, value: str) -> str:
        return value


EARNINGS_CSV_HEADER = (
    "time_utc", "stream", "gift", "quantity", "fan", "coins", "diamonds", "status",
)  # fmt: skip


@creator_required
def earnings_csv(request: HttpRequest) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = selectors.earnings_rows(creator=request.user)

    def lines():
        yield writer.writerow(EARNINGS_CSV_HEADER)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="giftcast-earnings.csv"'
    return response


@creator_required
@reauthentication_required(allow_get=True)
def payouts(request: HttpRequest) -> HttpResponse:
    """The creator's payouts: what can be cashed out, the request form, the history.

    Requesting needs two-factor authentication and a recent re-authentication (allauth
    asks for it and then replays the request)."""
    creator = request.user
    mfa = is_mfa_enabled(creator)
    if not mfa:
        # Once two-factor authentication is on, the recovery codes page leads back here.
        request.session["mfa_return"] = request.path
    form = PayoutRequestForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not mfa:
            form.add_error(None, "Turn on two-factor authentication first.")
        elif form.is_valid():
            try:
                payout = services.payout_request(
                    creator=creator,
                    diamonds=form.cleaned_data["diamonds"],
                    key=str(form.cleaned_data["key"]),
                )
            except PayoutNotAllowed as exc:
                form.add_error(None, str(exc))
            except PayoutError as exc:
                form.add_error("diamonds", str(exc))
            else:
                messages.success(
                    request,
                    f"Payout #{payout.pk} requested: staff review it, and we email you at "
                    "every step.",
                )
                return redirect("payouts:payouts")
        status = 400
    earnings = selectors.earnings_summary(creator=creator)
    minimum = selectors.minimum_cents(creator=creator)
    context = {
        **_cash_context(creator),
        "form": form,
        "mfa": mfa,
        "earnings": earnings,
        "quote": selectors.payout_quote(earnings.available),
        "minimum_cents": minimum,
        "minimum_diamonds": selectors.diamonds_for_cents(minimum),
        "cap_cents": selectors.daily_cap_cents(),
        "cents_per_diamond": selectors.cents_per_diamond(),
        "method": selectors.active_method(creator=creator),
        "history": selectors.payout_history(creator=creator)[:50],
    }
    return render(request, "payouts/payouts.html", context, status=status)


@creator_required
def payout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    payout = selectors.payout_get(creator=request.user, pk=pk)
    if payout is None:
        raise Http404("No such payout.")
    return render(
        request,
        "payouts/payout_detail.html",
        {"payout": payout, "history": payout.history.select_related("by__profile")},
    )


@creator_required
@reauthentication_required(allow_get=True)
def payout_method(request: HttpRequest) -> HttpResponse:
    current = selectors.active_method(creator=request.user)
    form = PayoutMethodForm(
        request.POST if request.method == "POST" else None,
        initial={"kind": current.kind if current else PayoutMethodKind.PAYPAL},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            method = services.payout_method_set(
                creator=request.user,
                kind=data["kind"],
                paypal_email=data["paypal_email"],
                bank_holder=data["bank_holder"],
                iban=data["iban"],
                bic=data["bic"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Payouts now go to {method.masked}.")
            return redirect("payouts:payouts")
    return render(
        request,
        "payouts/method.html",
        {"form": form, "current": current, **_stripe_context(request.user)},
        status=400 if form.errors else 200,
    )


# ----------------------------------------------------------------------------- Stripe Connect


def _stripe_context(user) -> dict:
    """What the method page shows of Stripe Connect: nothing unless it is the provider."""
    provider = get_provider()
    if not isinstance(provider, StripeConnectProvider):
        return {"stripe_provider": False}
    return {"stripe_provider": True, "stripe_account": provider.account_of(creator=user)}


def _stripe_provider():
    provider = get_provider()
    if not isinstance(provider, StripeConnectProvider):
        raise Http404("Payouts are not made through Stripe here.")
    return provider


@creator_required
@reauthentication_required(allow_get=True)
@require_http_methods(["GET", "POST"])
def stripe_connect(request: HttpRequest) -> HttpResponse:
    """Start (or resume, when Stripe sends the creator back to refresh an expired link)
    Stripe's onboarding for the creator's Express account."""
    provider = _stripe_provider()
    try:
        url = provider.onboarding_url(
            creator=request.user,
            return_url=request.build_absolute_uri(reverse("payouts:stripe_return")),
            refresh_url=request.build_absolute_uri(reverse("payouts:stripe_connect")),
        )
    except PayoutError as exc:
        messages.error(request, f"We could not start Stripe's onboarding. {exc}")
        return redirect("payouts:method")
    return redirect(url)


@creator_required
def stripe_return(request: HttpRequest) -> HttpResponse:
    """Back from Stripe's onboarding: ask Stripe how far the account got."""
    provider = _stripe_provider()
    account = provider.account_of(creator=request.user)
    if account is not None:
        try:
            account = provider.account_sync(account_id=account.account_id)
        except PayoutError as exc:
            messages.error(request, str(exc))
            return redirect("payouts:method")
    if account is not None and account.payouts_enabled:
        messages.success(request, "Your Stripe account is connected: payouts go there now.")
    else:
        messages.info(
            request,
            "Stripe hasn't enabled payouts to your account yet. Finish onboarding, or check "
            "back once Stripe has verified your details.",
        )
    return redirect("payouts:method")


@csrf_exempt
@require_POST
def stripe_connect_webhook(request: HttpRequest) -> HttpResponse:
    result = connect_webhook_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature")
    )
    return HttpResponse(result.message, status=result.status_code, content_type="text/plain")
