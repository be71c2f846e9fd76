"""A hypothesis state machine: random recharges, gifts, refunds, adjustments and roll-ups.

After every step each balance equals the sum of its entries, the books balance, and no
user's wallet is below zero; the model below predicts every balance exactly.
"""

from __future__ import annotations

import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.accounts.factories import UserFactory
from tests.wallet.factories import gift_legs, session_event, signed
from wallet import exceptions as errors
from wallet.ledger import (
    account_balance,
    account_get,
    ledger_audit,
    ledger_rollup,
    transaction_post,
)
from wallet.models import (
    Account,
    CoinPackage,
    Purpose,
    Recharge,
    RechargeStatus,
    TransactionKind,
    Unit,
)
from wallet.services import adjustment_post, recharge_create
from wallet.webhooks import webhook_receive

PACKAGES = [65, 350, 700, 1400, 3500]


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def people(self):
        self.fans = UserFactory.create_batch(3)
        self.creators = UserFactory.create_batch(2)
        self.staff = UserFactory(is_staff=True)
        self.coins = {f.pk: 0 for f in self.fans}
        self.debt = {f.pk: 0 for f in self.fans}
        self.frozen = {f.pk: False for f in self.fans}
        self.diamonds = {c.pk: 0 for c in self.creators}
        self.paid: list[Recharge] = []

    def _event(self, event: dict) -> int:
        body, sig = signed(event)
        return webhook_receive(payload=body, signature=sig).status_code

    @rule(fan=st.integers(0, 2), package=st.sampled_from(PACKAGES), deliveries=st.integers(1, 3))
    def recharge(self, fan, package, deliveries):
        user = self.fans[fan]
        try:
            recharge = recharge_create(
                user=user,
                currency="USD",
                package=CoinPackage.objects.get(coins=package, bonus_coins=0),
                success_url="http://t/s/",
                cancel_url="http://t/c/",
            )
        except errors.AccountFrozen:
            assert self.frozen[user.pk]
            return
        for n in range(deliveries):  # redelivered events credit once
            assert (
                self._event(session_event(recharge, event_id=f"evt_{recharge.pk}_{n % 2}")) == 200
            )
        self.coins[user.pk] += package
        recharge.refresh_from_db()
        self.paid.append(recharge)

    @rule(fan=st.integers(0, 2), creator=st.integers(0, 1), coins=st.integers(1, 400))
    def gift(self, fan, creator, coins):
        user, star = self.fans[fan], self.creators[creator]
        diamonds = coins // 2
        try:
            transaction_post(
                kind=TransactionKind.GIFT,
                idempotency_key=str(uuid.uuid4()),
                legs=gift_legs(user, star, coins, diamonds),
            )
        except errors.AccountFrozen:
            assert self.frozen[user.pk]
        except errors.InsufficientFunds:
            assert self.coins[user.pk] < coins
        else:
            assert not self.frozen[user.pk] and self.coins[user.pk] >= coins
            self.coins[user.pk] -= coins
            self.diamonds[star.pk] += diamonds

    @precondition(lambda self: any(r.status == RechargeStatus.PAID for r in self.paid))
    @rule(data=st.data(), dispute=st.booleans())
    def refund(self, data, dispute):
        open_ = [r for r in self.paid if r.status == RechargeStatus.PAID]
        recharge = data.draw(st.sampled_from(open_))
        obj = {
            "id": "ch",
            "payment_intent": recharge.payment_intent_id,
            "amount_refunded": recharge.amount_minor,
        }
        kind = "charge.dispute.created" if dispute else "charge.refunded"
        assert (
            self._event({"id": f"evt_back_{recharge.pk}", "type": kind, "data": {"object": obj}})
            == 200
        )
        recharge.refresh_from_db()
        owner = recharge.user_id
        taken = min(self.coins[owner], recharge.coins)
        self.coins[owner] -= taken
        self.debt[owner] += recharge.coins - taken
        if recharge.coins - taken:
            self.frozen[owner] = True

    @rule(fan=st.integers(0, 2), amount=st.integers(-300, 300).filter(bool))
    def adjust(self, fan, amount):
        user = self.fans[fan]
        try:
            adjustment_post(
                owner=user, unit=Unit.COIN, amount=amount, reason="stateful test", staff=self.staff
            )
        except errors.InsufficientFunds:
            assert self.coins[user.pk] + amount < 0
        else:
            self.coins[user.pk] += amount

    @rule()
    def rollup(self):
        ledger_rollup()

    @invariant()
    def balances_match_the_model(self):
        if not hasattr(self, "fans"):
            return
        for fan in self.fans:
            assert (
                account_balance(account_get(owner=fan, purpose=Purpose.WALLET))
                == self.coins[fan.pk]
            )
            assert (
                account_balance(account_get(owner=fan, purpose=Purpose.CLAWBACK))
                == -self.debt[fan.pk]
            )
            wallet = Account.objects.get(owner=fan, purpose=Purpose.WALLET)
            assert wallet.frozen == self.frozen[fan.pk]
        for creator in self.creators:
            assert (
                account_balance(account_get(owner=creator, purpose=Purpose.EARNINGS))
                == self.diamonds[creator.pk]
            )

    @invariant()
    def books_balance(self):
        report = ledger_audit()
        assert report.ok, report.problems


LedgerMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)


class TestLedgerStateMachine(LedgerMachine.TestCase, TestCase):
    pass
