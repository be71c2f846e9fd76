"""Browser journeys: Playwright driving Debian's Chromium against pytest-django's live server.

Outside CI a missing /usr/bin/chromium skips these tests with the reason shown; under
CI=true it fails the run, because .ci/run installs the browser.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "e2e"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(
            f"CI=true but no browser at {CHROMIUM}: .ci/run must install chromium"
        )
    skip = pytest.mark.skip(
        reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    )
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_setup(playwright, django_db_setup):
    """Playwright starts before the test database is made. Starting its sync API leaves the
    main greenlet in another contextvars context, where asgiref's thread-locals (Django's
    connections) are empty: the connection django_db_setup made, and the contents it
    serialized on it for serialized_rollback, were lost to every test after it. The first
    browser test passed; the next one found the tables flushed and nothing to restore them
    from (no gift catalogue: test_room_journey failed after test_room_reconnect)."""
    yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS}


@pytest.fixture
def shot():
    """Save a full-page screenshot under test-results/e2e/ and return its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def asgi_server(transactional_db, request):
    """A real daphne process (websockets and all) serving the test database on a free port;
    its output in test-results/e2e-daphne/<test>.log."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(settings_dict["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            pytest.skip(
                "the websocket journey needs a file or PostgreSQL test database (GIFTCAST_E2E=1)"
            )
        url = f"sqlite:///{name}"
    else:
        auth = settings_dict["USER"] + (
            f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
        )
        url = f"postgres://{auth}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    root = Path(__file__).resolve().parents[2]
    SHOTS.mkdir(parents=True, exist_ok=True)
    logs = SHOTS.parent / "e2e-daphne"
    logs.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
    log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    base = f"http://127.0.0.1:{port}"

    class Server(str):
        """The base URL; stop() and start() restart daphne (every websocket drops)."""

        proc = None

        def start(self):
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            for _ in range(150):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - our own server
                    return
                except OSError:
                    if self.proc.poll() is not None:
                        raise RuntimeError("daphne exited early") from None
                    time.sleep(0.2)
            raise RuntimeError("daphne did not start")

        def stop(self):
            self.proc.terminate()
            self.proc.wait(10)

    server = Server(base)
    try:
        server.start()
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        log.close()


@pytest.fixture
def open_page(browser):
    """`open_page(base, user, path, **context_args)`: a page in a browser context of its own
    (desktop-sized unless `viewport` says otherwise), signed in as `user` (None: a visitor),
    at `base + path` when a path is given. Every context opened is closed when the test ends,
    passed or failed: a room page left open goes on reconnecting to servers long gone."""
    contexts = []

    def open_(base: str, user=None, path: str | None = None, **context_args):
        context = browser.new_context(**{"viewport": DESKTOP, **context_args})
        contexts.append(context)
        if user is not None:
            context.add_cookies([session_cookie(user, base)])
        page = context.new_page()
        if path is not None:
            page.goto(base + path)
        return page

    yield open_
    for context in contexts:
        context.close()


def session_cookie(user, base: str) -> dict:
    """A signed-in session for `user`, as a cookie Playwright can carry."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}
