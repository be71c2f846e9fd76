"""Settings: production refuses to start insecurely and passes `check --deploy`; site pages."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A deployment that takes payments through Stripe (test mode, as DESIGN §3 has it).
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k3J9x!vQ2m#pL8zR4tW7yB1nC6fH0dS5gA2eU9iO3kM7qX4wZ8vT1rY6uP0lN5jE",
    "DJANGO_ALLOWED_HOSTS": "giftcast.example.com",
    "STRIPE_SECRET_KEY": "sk_test_giftcast_settings_check",
    "STRIPE_WEBHOOK_SECRET": "whsec_giftcast_settings_check",
}
PAYMENT_ENV = ("PAYMENT_PROVIDER", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")


def _without(*names: str) -> dict[str, str]:
    return {k: v for k, v in PROD_ENV.items() if k not in names}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # Only what the test sets: none of the caller's Django or payment settings.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "STRIPE_")) and k != "PAYMENT_PROVIDER"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_check_deploy_reports_no_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_fall_back_to_simulated_payments():
    result = _manage("check", env=_without(*PAYMENT_ENV))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "STRIPE_SECRET_KEY" in result.stderr and "PAYMENT_PROVIDER=simulated" in result.stderr


def test_production_check_deploy_errors_on_simulated_payments_set_explicitly():
    env = {**_without(*PAYMENT_ENV), "PAYMENT_PROVIDER": "simulated"}
    assert _manage("check", env=env).returncode == 0  # it starts: the operator chose it
    result = _manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "wallet.E010" in result.stderr and "4242" in result.stderr


def test_production_check_deploy_errors_on_a_stripe_key_without_webhook_secret():
    result = _manage("check", "--deploy", env=_without("STRIPE_WEBHOOK_SECRET"))
    assert result.returncode != 0
    assert "wallet.E011" in result.stderr and "STRIPE_WEBHOOK_SECRET" in result.stderr


def test_production_check_deploy_errors_on_mixed_test_and_live_keys():
    env = {**PROD_ENV, "STRIPE_PUBLISHABLE_KEY": "pk_live_giftcast_settings_check"}
    result = _manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "wallet.E015" in result.stderr


def test_live_key_outside_production_fails_every_command():
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "STRIPE_SECRET_KEY": "sk_live_giftcast_settings_check",
        "STRIPE_WEBHOOK_SECRET": "whsec_giftcast_settings_check",
    }
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "wallet.E003" in result.stderr


def test_production_collectstatic_succeeds_into_a_fresh_root(tmp_path):
    """whitenoise's manifest storage follows every url() and sourceMappingURL: a reference to
    a file that is not shipped fails the release step (MissingFileError)."""
    result = _manage(
        "collectstatic", "--noinput", env={**PROD_ENV, "DJANGO_STATIC_ROOT": str(tmp_path)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    hls = tmp_path / manifest["vendor/hls.light.min.js"]
    assert hls.is_file() and (tmp_path / (manifest["vendor/hls.light.min.js"] + ".gz")).is_file()
    assert "sourceMappingURL" not in hls.read_text()
    assert "css/site.css" in manifest


def _commands_in_docs(marker: str) -> list[str]:
    """The commands of the sh block between docs/operations.md's two <!-- marker --> lines."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split(f"<!-- {marker} -->", 2)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def _release_commands_in_docs() -> list[str]:
    return _commands_in_docs("release-steps")


def test_release_script_runs_the_steps_the_docs_give():
    """docs/operations.md's release steps are what deploy/release-check.sh runs, in order."""
    documented = _release_commands_in_docs()
    assert documented[:3] == [
        "python manage.py check --deploy --fail-level WARNING",
        "python manage.py migrate --noinput",
        "python manage.py collectstatic --noinput",
    ]
    assert any(shlex.split(c)[0] == "daphne" for c in documented)
    script = (ROOT / "deploy" / "release-check.sh").read_text().splitlines()
    # As written; the server line may add output redirections and `&` (in the background).
    plumbing = re.compile(r"(\s+(\d?>&?\S+|&))*")

    def runs(line: str, command: str) -> bool:
        line = line.strip()
        return line.startswith(command) and plumbing.fullmatch(line[len(command) :]) is not None

    ran = [c for line in script for c in documented if runs(line, c)]
    assert ran == documented
    assert "deploy/release-check.sh" in (ROOT / ".ci" / "run").read_text()


def test_backup_script_runs_the_steps_the_docs_give():
    """docs/operations.md's backup and restore steps are what deploy/backup-restore-check.sh
    runs, in order, and CI runs the script right after the release steps."""
    documented = _commands_in_docs("backup-steps")
    assert documented[0].startswith("pg_dump --format=custom ")
    assert [shlex.split(c)[0] for c in documented[1:3]] == ["createdb", "pg_restore"]
    assert 'DATABASE_URL="$RESTORE_URL" python manage.py ledger_audit' in documented
    assert documented[-1].startswith("diff ")
    script = (ROOT / "deploy" / "backup-restore-check.sh").read_text().splitlines()
    # As written; a line may add output redirections, or `|| fail "…"` to say what failed.
    plumbing = re.compile(r"(\s+\d?>&?\S+)*(\s+\|\|(\s+fail\s.*)?)?")

    def runs(line: str, command: str) -> bool:
        line = line.strip()
        return line.startswith(command) and plumbing.fullmatch(line[len(command) :]) is not None

    # The steps, in order, before anything else they name (the audit runs again later,
    # after a gift on the restored copy).
    ran = [c for line in script for c in documented if runs(line, c)]
    assert ran[: len(documented)] == documented
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    release = ci.index("timeout 600 deploy/release-check.sh")
    assert "timeout 600 deploy/backup-restore-check.sh" in ci[release + 1 : release + 4]


def _unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's `key=value` lines, each key's values in order (comments skipped)."""
    values: dict[str, list[str]] = {}
    text = (ROOT / "deploy" / "systemd" / name).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_units_run_the_documented_release_steps():
    """giftcast-release.service runs the doc's three release steps and giftcast@PORT.service
    its server command, with the release's virtualenv and the instance's port."""
    documented = _release_commands_in_docs()
    venv = "/srv/giftcast/.venv/bin/"
    assert _unit("giftcast-release.service")["ExecStart"] == [venv + c for c in documented[:3]]
    (server,) = _unit("giftcast@.service")["ExecStart"]
    assert server.startswith(venv + "daphne ")
    assert server.removeprefix(venv).replace("%i", '"$PORT"') == documented[3]
    assert "--proxy-headers" in shlex.split(server)  # the client's address, not nginx's


def test_nginx_passes_the_room_sockets_upgraded():
    """Every websocket route lies under the location that nginx upgrades, and that location
    (like every location passed to the app) sends the client's address and scheme."""
    from config.routing import websocket_urlpatterns

    conf = (ROOT / "deploy" / "nginx" / "giftcast.conf").read_text()
    locations = dict(re.findall(r"\n    location (\S+) \{\n(.*?)\n    \}", conf, re.S))
    upgraded = [p for p, body in locations.items() if "Upgrade $http_upgrade;" in body]
    assert len(upgraded) == 1
    prefix, body = upgraded[0], locations[upgraded[0]]
    assert 'proxy_set_header Connection "upgrade";' in body
    assert all(f"/{p.pattern}".startswith(prefix) for p in websocket_urlpatterns)
    proxy = (ROOT / "deploy" / "nginx" / "giftcast-proxy.conf").read_text()
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in proxy
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in proxy
    passes = conf.count("proxy_pass http://giftcast_app;")
    assert passes >= 3 and conf.count("include snippets/giftcast-proxy.conf;") == passes


def _settings_read() -> set[str]:
    names: set[str] = set()
    for module in ("base", "production"):
        text = (ROOT / "config" / "settings" / f"{module}.py").read_text()
        names |= set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", text))
    return names


def test_env_example_lists_every_setting_production_reads():
    """deploy/giftcast.env.example names each variable config/settings/{base,production}.py
    read (set, or commented with its default), and ships no secret."""
    read = _settings_read()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "STRIPE_WEBHOOK_SECRET"} <= read
    lines = (ROOT / "deploy" / "giftcast.env.example").read_text().splitlines()
    named = {m.group(1) for line in lines if (m := re.match(r"#? ?([A-Z][A-Z0-9_]*)=", line))}
    assert sorted(read - named) == []
    values = dict(line.split("=", 1) for line in lines if re.match(r"[A-Z][A-Z0-9_]*=", line))
    assert values["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    for secret in ("DJANGO_SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert values[secret] == "", secret
    assert not re.search(r"(sk|rk)_(live|test)_\w|whsec_\w", "\n".join(lines))


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_wildcard_hosts():
    result = _manage("check", env={**PROD_ENV, "DJANGO_ALLOWED_HOSTS": "*"})
    assert result.returncode != 0
    assert "no '*'" in result.stderr


def test_production_refuses_demo_data():
    result = _manage("seed_demo", env=PROD_ENV)
    assert result.returncode != 0
    assert "refuses" in result.stderr


def test_local_settings_are_the_default_and_load_the_asgi_app():
    code = (
        "import os; os.environ.pop('DJANGO_SETTINGS_MODULE', None);"
        "from config.asgi import application; from django.conf import settings;"
        "print(settings.SETTINGS_MODULE, type(application).__name__, settings.PAYMENT_PROVIDER)"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY")
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.settings.local", "ProtocolTypeRouter", "simulated"]


def test_production_email_links_use_the_sites_own_https_address():
    """Payout emails link back to the site: in production its first host over HTTPS."""
    env = {**PROD_ENV, "DJANGO_ALLOWED_HOSTS": "live.example.com,www.example.com"}
    done = _manage(
        "shell", "-c", "from django.conf import settings; print(settings.SITE_URL)", env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "https://live.example.com"
