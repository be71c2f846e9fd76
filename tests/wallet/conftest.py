from __future__ import annotations

import pytest

from wallet.ledger import ledger_audit


@pytest.fixture
def books_balance():
    """Run the ledger audit after the test: every money test must leave the books clean."""
    yield
    report = ledger_audit()
    assert report.ok, report.problems
