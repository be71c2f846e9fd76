"""The payout provider's system checks: Stripe Connect payouts in production need the
platform key and the Connect endpoint's signing secret, or payouts would never settle."""

from __future__ import annotations

from django.core.checks import run_checks


def _payout_errors(*, deploy: bool = True) -> list[str]:
    return sorted(
        m.id for m in run_checks(include_deployment_checks=deploy) if m.id.startswith("payouts.")
    )


def _stripe(settings, *, connect: str = "whsec_connect_a,whsec_platform_b") -> None:
    settings.PAYOUT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_giftcast_fake"
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = connect


def test_manual_payouts_need_nothing(settings):
    settings.PAYOUT_PROVIDER = "manual"
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    assert _payout_errors() == []


def test_stripe_payouts_with_key_and_secrets_pass(settings):
    _stripe(settings)
    assert _payout_errors() == []


def test_stripe_payouts_without_the_connect_secret_fail_check_deploy(settings):
    _stripe(settings, connect="")
    assert _payout_errors() == ["payouts.E010"]
    assert _payout_errors(deploy=False) == []  # a developer may run without webhooks


def test_a_connect_secret_that_is_not_one_fails_check_deploy(settings):
    _stripe(settings, connect="whsec_good, sk_test_pasted_the_wrong_thing")
    [message] = [m for m in run_checks(include_deployment_checks=True) if m.id == "payouts.E011"]
    assert "sk_tes…" in message.msg and "pasted" not in message.msg  # never the whole secret


def test_stripe_payouts_without_a_key_fail_every_check(settings):
    _stripe(settings)
    settings.STRIPE_SECRET_KEY = ""
    assert "payouts.E002" in _payout_errors(deploy=False)


def test_unknown_payout_provider_fails_every_check(settings):
    settings.PAYOUT_PROVIDER = "paypal-api"
    assert _payout_errors(deploy=False) == ["payouts.E001"]
