"""Payout providers: the one place that knows how each pays a creator.

`manual` (the default): staff pay outside the site (PayPal, bank transfer) and record the
payment's reference when they mark the payout paid.
`stripe`: Stripe Connect with Express accounts. A creator connects an account through an
Account Link; approval sends a Transfer to it (the payout is then `processing`); the
Connect webhook (payouts.webhooks) records the account's status and the payout's end.
Every call to Stripe for payouts is in this module. The services never branch on the
provider; they ask it what they need to know.
"""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from .exceptions import NO_METHOD as NO_MANUAL_METHOD
from .exceptions import PayoutError
from .models import PayoutMethod, PayoutMethodKind, PayoutStatus, StripeAccount

log = logging.getLogger("giftcast.money")

NO_STRIPE_ACCOUNT = "Connect your Stripe account before you request a payout."
STRIPE_NOT_READY = (
    "Stripe can't pay out to your account yet: finish its onboarding (Connect with Stripe) "
    "and come back once Stripe has verified your details."
)
STRIPE_NOT_CONFIGURED = "Stripe is not configured (STRIPE_SECRET_KEY)."
STRIPE_REFUSED = "Stripe refused the {what}: {message}"


class PayoutProviderError(PayoutError):
    """The provider could not be reached or refused the request; nothing changed here."""

    code = "payout_provider_error"


class ManualProvider:
    name = "manual"
    label = "Paid by staff (PayPal or bank transfer)"
    # Staff must say which PayPal or bank transaction paid it.
    requires_reference = True

    def method_problem(self, *, creator, method: PayoutMethod | None) -> str | None:
        """Why the creator cannot be paid to `method` (their active one), or None."""
        if method is None or method.kind == PayoutMethodKind.STRIPE:
            return NO_MANUAL_METHOD
        return None

    def on_approved(self, *, payout):
        """Nothing happens by itself: staff pay, then mark the payout paid."""
        return payout


class StripeConnectProvider:
    name = "stripe"
    label = "Stripe Connect (a transfer to the creator's Stripe account)"
    # A payout marked paid keeps its Transfer's id as its reference.
    requires_reference = True

    def _client(self) -> stripe.StripeClient:
        if not settings.STRIPE_SECRET_KEY:
            raise PayoutProviderError(STRIPE_NOT_CONFIGURED)
        base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=2
        )

    # ------------------------------------------------------------------------- accounts

    def account_of(self, *, creator) -> StripeAccount | None:
        return StripeAccount.objects.filter(creator=creator).first()

    def method_problem(self, *, creator, method: PayoutMethod | None) -> str | None:
        account = self.account_of(creator=creator)
        if account is None:
            return NO_STRIPE_ACCOUNT
        if not account.payouts_enabled:
            return STRIPE_NOT_READY
        if method is None or method.stripe_account_id != account.account_id:
            return STRIPE_NOT_READY
        return None

    def onboarding_url(self, *, creator, return_url: str, refresh_url: str) -> str:
        """The Account Link a creator follows to (finish) onboarding; the Express account is
        created the first time, once per creator."""
        client = self._client()
        account = StripeAccount.objects.filter(creator=creator).first()
        try:
            if account is None:
                created = client.v1.accounts.create(
                    {
                        "type": "express",
                        "email": creator.email,
                        "capabilities": {"transfers": {"requested": True}},
                        "metadata": {"user_id": str(creator.pk)},
                    },
                    options={"idempotency_key": f"giftcast-account-{creator.pk}"},
                )
                account = _account_store(creator=creator, account_id=created.id)
            link = client.v1.account_links.create(
                {
                    "account": account.account_id,
                    "type": "account_onboarding",
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                }
            )
        except stripe.StripeError as exc:
            raise PayoutProviderError(
                STRIPE_REFUSED.format(what="onboarding", message=exc.user_message or exc)
            ) from exc
        return link.url

    def account_sync(self, *, account_id: str) -> StripeAccount | None:
        """Ask Stripe for the account's state and record it (the webhook's event is only the
        trigger). None when the account is not one of ours."""
        if not StripeAccount.objects.filter(account_id=account_id).exists():
            return None
        try:
            account = self._client().v1.accounts.retrieve(account_id).to_dict()
        except stripe.StripeError as exc:
            raise PayoutProviderError(
                STRIPE_REFUSED.format(what="account lookup", message=exc.user_message or exc)
            ) from exc
        return stripe_account_record(
            account_id=account_id,
            payouts_enabled=bool(account.get("payouts_enabled")),
            details_submitted=bool(account.get("details_submitted")),
        )

    # ------------------------------------------------------------------------- payouts

    def on_approved(self, *, payout):
        """Send the payout's cash to the creator's account; the payout is then processing,
        with the Transfer's id as its reference. A refusal leaves it approved and raises."""
        from .services import payout_transition

        account = StripeAccount.objects.filter(creator_id=payout.creator_id).first()
        if account is None:
            raise PayoutProviderError(NO_STRIPE_ACCOUNT)
        try:
            transfer = self._client().v1.transfers.create(
                {
                    "amount": payout.amount_minor,
                    "currency": "usd",
                    "destination": account.account_id,
                    "description": f"Giftcast payout #{payout.pk}",
                    "metadata": {"payout_id": str(payout.pk)},
                },
                options={"idempotency_key": f"giftcast-payout-{payout.pk}"},
            )
        except stripe.StripeError as exc:
            log.warning("payout %s: transfer refused: %s", payout.pk, exc)
            raise PayoutProviderError(
                STRIPE_REFUSED.format(what="transfer", message=exc.user_message or exc)
                + " The payout stays approved."
            ) from exc
        return payout_transition(
            payout_id=payout.pk, to=PayoutStatus.PROCESSING, by=None, reference=transfer.id
        )

    def transfer_reverse(self, *, payout) -> str:
        """Take a processing payout's Transfer back from the creator's account (its bank
        payout failed, so the cash sits there); returns the reversal's id."""
        try:
            reversal = self._client().v1.transfers.reversals.create(
                payout.provider_reference,
                {"metadata": {"payout_id": str(payout.pk)}},
                options={"idempotency_key": f"giftcast-payout-{payout.pk}-reversal"},
            )
        except stripe.StripeError as exc:
            raise PayoutProviderError(
                STRIPE_REFUSED.format(what="transfer reversal", message=exc.user_message or exc)
            ) from exc
        return reversal.id


# ----------------------------------------------------------------------------- records


def _account_store(*, creator, account_id: str) -> StripeAccount:
    try:
        with transaction.atomic():
            return StripeAccount.objects.create(creator=creator, account_id=account_id)
    except IntegrityError:  # a second click raced the first (same idempotency key)
        return StripeAccount.objects.get(creator=creator)


@transaction.atomic
def stripe_account_record(
    *, account_id: str, payouts_enabled: bool, details_submitted: bool
) -> StripeAccount:
    """Record what Stripe says of a connected account. Once it can receive payouts it
    becomes the creator's payout method (the one before is retired and kept for its
    payouts), and the creator is emailed, as for any method change."""
    account = StripeAccount.objects.select_for_update().get(account_id=account_id)
    account.payouts_enabled = payouts_enabled
    account.details_submitted = details_submitted
    account.save(update_fields=["payouts_enabled", "details_submitted", "updated_at"])
    if not payouts_enabled:
        return account
    previous = (
        PayoutMethod.objects.select_for_update()
        .filter(creator_id=account.creator_id, active=True)
        .first()
    )
    if previous is not None and previous.stripe_account_id == account_id:
        return account
    if previous is not None:
        previous.active = False
        previous.retired_at = timezone.now()
        previous.save(update_fields=["active", "retired_at"])
    method = PayoutMethod.objects.create(
        creator_id=account.creator_id, kind=PayoutMethodKind.STRIPE, stripe_account_id=account_id
    )
    log.info("payout method of user %s set to %s", account.creator_id, method.masked)
    body = (
        f"Your Stripe account is connected: payouts now go to {method.masked}.\n"
        + (f"Before: {previous.masked}.\n" if previous else "")
        + "If this wasn't you, change your password and contact support right away."
    )
    email = account.creator.email
    subject = f"[Giftcast] Payout method {'changed' if previous else 'added'}"
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return account


PROVIDERS = {"manual": ManualProvider, "stripe": StripeConnectProvider}


def get_provider(name: str | None = None):
    name = name or settings.PAYOUT_PROVIDER
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise PayoutProviderError(f"Unknown PAYOUT_PROVIDER {name!r}") from None
