from __future__ import annotations

import pytest
from django.core.cache import cache

from config.pgcall import aconnections_close
from livestreams.realtime import presence
from tests.accounts.factories import UserFactory
from wallet.ledger import ledger_audit

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _clean_cache():
    # allauth keeps its rate-limit counters in the cache: start every test with none. Nor
    # does a test leave viewers in this process's presence for the next one.
    cache.clear()
    yield
    cache.clear()
    presence._present.clear()


@pytest.fixture(autouse=True)
def _async_connections_closed():
    # Each test's event loop kept its own database connections (the websocket's gifts):
    # closed with it, so that no session outlives its test or holds the test database.
    yield
    aconnections_close()


@pytest.fixture
def user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def other_user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, db):
    """A client signed in as a superuser; the user is at `staff_client.staff`."""
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


@pytest.fixture
def books_balance():
    """Run the ledger audit after the test: every money test must leave the books clean."""
    yield
    report = ledger_audit()
    assert report.ok, report.problems
