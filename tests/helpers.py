"""Shared test helpers: racing threads against PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL (set DATABASE_URL)"
)


def run_threads(n: int, target) -> list:
    """Run target(i) in n threads released together; each result or exception, in order.

    Each thread has its own database connection, closed at the end.
    """
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def money_path(database_functions: bool):
    """Ledger transfers and gifts on the PostgreSQL database functions (True) or on the
    portable ORM path (False), for the tests that run both (settings.USE_DATABASE_FUNCTIONS)."""
    from django.test import override_settings

    return override_settings(USE_DATABASE_FUNCTIONS=database_functions)
