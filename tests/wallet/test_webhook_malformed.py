"""Webhook bodies that are validly signed but are not events: 400, and nothing recorded.

Signatures are real (wallet.payments.sign_payload): these bodies get past verification, so
only the decoder stands between them and the database.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from wallet.models import Entry, Recharge, RechargeStatusChange, Transaction, WebhookEvent
from wallet.payments import sign_payload
from wallet.webhooks import HANDLERS

pytestmark = pytest.mark.django_db
WEBHOOK = "/wallet/stripe/webhook/"
SESSION = "checkout.session.completed"


def _event(**fields) -> dict:
    event = {"id": "evt_malformed", "object": "event", "type": SESSION, "data": {"object": {}}}
    event["data"]["object"] = {
        "id": "cs_unknown",
        "amount_total": 370,
        "currency": "usd",
        "payment_status": "paid",
    }
    event.update(fields)
    return event


def _session(**fields) -> dict:
    return _event(data={"object": {**_event()["data"]["object"], **fields}})


MALFORMED: dict[str, str | dict] = {
    "an array": "[]",
    "an array of events": json.dumps([_event()]),
    "a string": '"evt_1"',
    "a number": "42",
    "null": "null",
    "missing id": {k: v for k, v in _event().items() if k != "id"},
    "missing type": {k: v for k, v in _event().items() if k != "type"},
    "missing data": {k: v for k, v in _event().items() if k != "data"},
    "id a number": _event(id=12),
    "id empty": _event(id=""),
    "id too long": _event(id="evt_" + "x" * 300),
    "type a list": _event(type=[SESSION]),
    "type too long": _event(type="x" * 101),
    "data a string": _event(data="checkout"),
    "data an array": _event(data=[{"object": {}}]),
    "object a string": _event(data={"object": "cs_1"}),
    "object missing": _event(data={}),
    "NUL in the id": _event(id="evt_\u0000"),
    "NUL in the type": _event(type="customer.\u0000"),
    "NUL deep inside": _session(metadata={"note": "a\u0000b"}),
    "NUL in a key": _session(**{"meta\u0000data": "x"}),
    "a lone surrogate": '{"id": "evt_\\ud800", "type": "customer.created", "data": {"object": {}}}',
    "Infinity": '{"id": "evt_1", "type": "customer.created", "data": {"object": {"x": Infinity}}}',
    "NaN": '{"id": "evt_1", "type": "customer.created", "data": {"object": {"x": NaN}}}',
    "a float past infinity": '{"id": "evt_1", "type": "x", "data": {"object": {"x": 1e999}}}',
    "nested past reason": '{"id": "evt_1", "type": "x", "data": {"object": '
    + "[" * 100_000
    + "]" * 100_000
    + "}}",
    "session without id": _event(data={"object": {"payment_status": "paid"}}),
    "session id a number": _session(id=7),
    "session id NUL": _session(id="cs_\u0000"),
    "amount a string": _session(amount_total="370"),
    "amount a boolean": _session(amount_total=True),
    "amount huge": _session(amount_total=10**40),
    "currency a number": _session(currency=840),
    "payment intent an object": _session(payment_intent={"id": "pi_1"}),
    "payment intent too long": _session(payment_intent="pi_" + "x" * 300),
    "payment status a list": _session(payment_status=["paid"]),
    "refund amount a string": _event(
        type="charge.refunded", data={"object": {"payment_intent": "pi_1", "amount_refunded": "1"}}
    ),
    "refund amount huge": _event(
        type="charge.refunded",
        data={"object": {"payment_intent": "pi_1", "amount_refunded": 10**400}},
    ),
    "dispute intent a number": _event(
        type="charge.dispute.created", data={"object": {"payment_intent": 5}}
    ),
}


def _post(client, body: str):
    return client.post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign_payload(body)
    )


@pytest.mark.parametrize("name", list(MALFORMED))
def test_signed_malformed_body_is_400_and_records_nothing(client, name):
    body = MALFORMED[name]
    body = body if isinstance(body, str) else json.dumps(body)
    response = _post(client, body)
    assert response.status_code == 400, response.content
    assert not WebhookEvent.objects.exists()
    assert not Transaction.objects.exists()


def test_malformed_body_for_an_open_checkout_changes_nothing(client, user):
    from tests.wallet.factories import session_event
    from wallet.models import CoinPackage
    from wallet.services import recharge_create

    recharge = recharge_create(
        user=user, currency="USD", package=CoinPackage.objects.get(coins=350, bonus_coins=0),
        success_url="http://t/s/", cancel_url="http://t/c/",
    )  # fmt: skip
    event = session_event(recharge, event_id="evt_ok")
    event["data"]["object"]["currency"] = ["usd"]
    assert _post(client, json.dumps(event)).status_code == 400
    recharge.refresh_from_db()
    assert recharge.status == "pending" and not recharge.needs_review
    assert not RechargeStatusChange.objects.exists()
    assert not WebhookEvent.objects.exists()
    # The same event, well formed, still credits: nothing above was recorded against it.
    event["data"]["object"]["currency"] = "usd"
    assert _post(client, json.dumps(event)).status_code == 200
    recharge.refresh_from_db()
    assert recharge.status == "paid"


def test_webhook_without_a_signature_header_is_400(client):
    response = client.post(WEBHOOK, json.dumps(_event()), content_type="application/json")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


# ----------------------------------------------------------------------------- fuzzing

TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
# Each slot is either what Stripe sends or anything at all, so that some events are well
# formed (and recorded: 200) and most are broken in one place or several (400).
WELL_FORMED = {
    "id": st.from_regex(r"\Acs_[a-z0-9]{1,8}\Z"),
    "amount_total": st.integers(0, 10**6),
    "currency": st.sampled_from(["usd", "krw", "gbp"]),
    "payment_intent": st.from_regex(r"\Api_[a-z0-9]{1,8}\Z"),
    "payment_status": st.sampled_from(["paid", "unpaid"]),
    "amount_refunded": st.integers(0, 10**6),
}
OBJECTS = st.fixed_dictionaries(
    {}, optional={name: good | JSON for name, good in WELL_FORMED.items()}
) | st.dictionaries(TEXT, JSON, max_size=4)
EVENT_IDS = st.from_regex(r"\Aevt_[a-z0-9]{1,8}\Z")
# Envelopes as Stripe sends them, around objects that may be broken.
NEAR_MISSES = st.fixed_dictionaries(
    {
        "id": EVENT_IDS,
        "type": st.sampled_from(sorted(HANDLERS)) | TEXT,
        "data": st.fixed_dictionaries({"object": OBJECTS}),
    }
)
EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "id": EVENT_IDS | SCALARS,
        "type": st.sampled_from(sorted(HANDLERS)) | SCALARS,
        "data": st.fixed_dictionaries({"object": OBJECTS | JSON}) | JSON,
        "livemode": SCALARS,
        "metadata": JSON,
    },
)


class TestWebhookFuzz(TestCase):
    """Generated signed bodies: never a 500 and never a ledger change; a 400 records nothing."""

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=NEAR_MISSES | EVENTS | JSON)
    def test_generated_signed_bodies(self, body):
        try:
            text = json.dumps(body)
        except ValueError:  # an integer too long for str(): not something to send
            return
        before = WebhookEvent.objects.count()
        response = _post(self.client, text)
        event(f"answered {response.status_code}")  # --hypothesis-show-statistics
        assert response.status_code in (200, 400), (response.status_code, text)
        assert not Transaction.objects.filter(kind="recharge").exists()
        assert not Entry.objects.exists()
        assert not Recharge.objects.exists()
        if response.status_code == 400:
            assert WebhookEvent.objects.count() == before
