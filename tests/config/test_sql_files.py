"""The database functions' sources are files (livestreams/sql, wallet/sql); migrations install
frozen copies. What PostgreSQL runs must be what the newest file says: a changed file needs
a migration of its own, or this fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's functions"),
]

ROOT = Path(settings.BASE_DIR)
FUNCTIONS = {
    "livestreams/sql/gift_post.sql": "gift_post(bigint, bigint, text, int, text, boolean, numeric, bigint, bigint)",
    "wallet/sql/wallet_post.sql": "wallet_post(text, text, text, text, text, bigint[], bigint[], text[], text[], bigint[], boolean[], boolean)",
}  # fmt: skip


def _definition(function: str) -> str:
    """The function as PostgreSQL has it, its schema left out, runs of whitespace as one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, pg_get_functiondef(p.oid) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = %s::regprocedure",
            [function],
        )
        schema, text = cursor.fetchone()
    return " ".join(text.replace(f"FUNCTION {schema}.", "FUNCTION ").split())


def _definition_of_file(path: str, function: str) -> str:
    """The file's function as PostgreSQL prints it: installed in a schema of its own, in a
    transaction rolled back."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA sql_file")
            cursor.execute("SET LOCAL search_path = sql_file, public")
            cursor.execute((ROOT / path).read_text())
        from_file = _definition(f"sql_file.{function}")
        transaction.set_rollback(True)
    return from_file


@pytest.mark.parametrize("path", sorted(FUNCTIONS))
def test_the_installed_function_is_the_newest_file(path):
    function = FUNCTIONS[path]
    assert _definition(f"public.{function}") == _definition_of_file(path, function)


def test_every_sql_file_is_held_to_its_function():
    files = {str(p.relative_to(ROOT)) for p in ROOT.glob("*/sql/*.sql")}
    assert files == set(FUNCTIONS)
