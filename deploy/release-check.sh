#!/usr/bin/env bash
# The release steps of docs/operations.md ("Per release"), run as written there under
# production settings, then the pages a proxy in front would ask for; first the nginx
# config and systemd units of deploy/ (deploy/config-check.sh). CI runs it after
# `make test` (.ci/run); tests/config/test_settings.py holds its steps to the doc's.
#
# Needs PostgreSQL and Redis and a free port. It makes a database of its own
# (<prefix>_<pid>) and drops it on exit, collects static files into a temporary
# DJANGO_STATIC_ROOT, and leaves nothing else behind. Settings it reads:
#   RELEASE_PG_URL     an existing database to connect to for CREATE/DROP DATABASE
#                      (default postgres://postgres@127.0.0.1:5432/postgres)
#   RELEASE_DB_PREFIX  the database's name before _<pid> (default giftcast_release)
#   RELEASE_REDIS_URL  default redis://127.0.0.1:6379/0
#   RELEASE_PORT       default 8123
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then export PATH="$PWD/.venv/bin:$PATH"; fi

pg_admin="${RELEASE_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="${RELEASE_DB_PREFIX:-giftcast_release}_$$"
host=giftcast.example.com
static_root=$(mktemp -d)
log=$(mktemp)
body=$(mktemp)
server=""

admin_sql() {
  python - "$pg_admin" "$1" <<'PY'
import sys

import psycopg

with psycopg.connect(sys.argv[1], autocommit=True) as connection:
    connection.execute(sys.argv[2])
PY
}

cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  admin_sql "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
  rm -rf "$static_root" "$log" "$body"
}
trap cleanup EXIT

# A deployment's environment (docs/operations.md, "Production"), with throwaway values.
export DJANGO_SETTINGS_MODULE=config.settings.production
DJANGO_SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(50))")
export DJANGO_SECRET_KEY
export DJANGO_ALLOWED_HOSTS="$host"
export DATABASE_URL="${pg_admin%/*}/$db"
export REDIS_URL="${RELEASE_REDIS_URL:-redis://127.0.0.1:6379/0}"
export EMAIL_URL=consolemail://
export STRIPE_SECRET_KEY=sk_test_giftcast_release_check
export STRIPE_WEBHOOK_SECRET=whsec_giftcast_release_check
export DJANGO_STATIC_ROOT="$static_root"
export PORT="${RELEASE_PORT:-8123}"
unset PAYMENT_PROVIDER STRIPE_PUBLISHABLE_KEY DJANGO_DEBUG DJANGO_SECURE_SSL_REDIRECT

if curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
  echo "something already listens on 127.0.0.1:$PORT; set RELEASE_PORT"; exit 1
fi
echo "== nginx config and systemd units (deploy/config-check.sh)"
deploy/config-check.sh
admin_sql "CREATE DATABASE \"$db\""

echo "== release steps (docs/operations.md), production settings, database $db"
python manage.py check --deploy --fail-level WARNING
python manage.py migrate --noinput
python manage.py collectstatic --noinput

# Something to show: seed_demo refuses production settings, so the demo data (with its live
# stream) is written under the local settings into the same database, with simulated
# payments; the stream gets an HLS URL so its room loads the vendored player.
PAYMENT_PROVIDER=simulated STRIPE_SECRET_KEY="" STRIPE_WEBHOOK_SECRET="" \
  DJANGO_SETTINGS_MODULE=config.settings.local python manage.py seed_demo >/dev/null
stream=$(python manage.py shell --no-imports -c "
from livestreams.models import Stream, StreamStatus
stream = Stream.objects.filter(status=StreamStatus.LIVE).order_by('pk').first()
Stream.objects.filter(pk=stream.pk).update(hls_url='https://video.example.com/live/index.m3u8')
print(stream.pk)
")

daphne --proxy-headers -b 127.0.0.1 -p "$PORT" config.asgi:application >"$log" 2>&1 &
server=$!
fail() { echo "FAIL: $*"; echo "-- server log"; tail -n 60 "$log"; exit 1; }
up=""
for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null -H "Host: $host" "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
    up=1; break
  fi
  kill -0 "$server" 2>/dev/null || fail "daphne exited"
  sleep 0.5
done
[ -n "$up" ] || fail "daphne did not answer /healthz on port $PORT"

# As the proxy forwards a request (deploy/nginx/giftcast-proxy.conf): the site's Host,
# X-Forwarded-Proto: https, the client's address in X-Forwarded-For.
proxied() {
  curl -sS -o "$body" -w "%{http_code}" -H "Host: $host" -H "X-Forwarded-Proto: https" \
    -H "X-Forwarded-For: 203.0.113.7" "http://127.0.0.1:$PORT$1"
}

echo "== pages over a pretend proxy (Host: $host, X-Forwarded-Proto: https)"
for path in / /live/ "/live/$stream/" /accounts/login/; do
  code=$(proxied "$path")
  [ "$code" = 200 ] || fail "$path answered $code, not 200"
  # Every static file the page names is served from the collected, hashed set.
  assets=$(grep -oE '(src|href)="/static/[^"]+"' "$body" | cut -d'"' -f2 | sort -u)
  [ -n "$assets" ] || fail "$path names no static files"
  for asset in $assets; do
    asset_code=$(proxied "$asset")
    [ "$asset_code" = 200 ] || fail "$asset (from $path) answered $asset_code"
  done
  echo "$path 200 ($(echo "$assets" | wc -l) static files 200)"
done
proxied "/live/$stream/" >/dev/null
grep -qE 'src="/static/vendor/hls\.light\.min\.[0-9a-f]{12}\.js"' "$body" ||
  fail "the room does not load the hashed hls.js"
# --proxy-headers: the client's address is the proxy's X-Forwarded-For (allauth's per-address
# limits count by it), as daphne's access log shows.
grep -q '^203\.0\.113\.7:' "$log" || fail "daphne did not take the client's address from X-Forwarded-For"

# Without the proxy's header the site redirects to https once; health checks stay on http.
code=$(curl -sS -o /dev/null -w "%{http_code} %{redirect_url}" -H "Host: $host" \
  "http://127.0.0.1:$PORT/live/")
[ "$code" = "301 https://$host/live/" ] || fail "plain http /live/ answered '$code'"
code=$(curl -sS -o /dev/null -w "%{http_code}" -H "Host: $host" "http://127.0.0.1:$PORT/readyz")
[ "$code" = 200 ] || fail "/readyz answered $code"

echo "== release steps passed"
