#!/usr/bin/env bash
# The backup and restore of docs/operations.md ("Backup and restore"), rehearsed: a source
# database with a history of money in it is dumped with pg_dump, restored with pg_restore
# into a fresh database, and the restored copy must pass ledger_audit, agree line for line
# with the source on deploy/ledger-summary.sql (counts, balances, digests of every entry,
# the database functions and triggers), and take the next gift. CI runs it after the
# release steps (.ci/run); tests/config/test_settings.py holds its steps to the doc's.
#
# Needs PostgreSQL's client tools (pg_dump, pg_restore, createdb, dropdb, psql) of the
# server's major version or newer. On the server of DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) it makes two databases of its own,
# ${BACKUP_DB_PREFIX:-giftcast_backup}_src_<pid> and …_dst_<pid>, and drops both on exit;
# it touches no other database and no Redis (the embedded default's in-process cache).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then export PATH="$PWD/.venv/bin:$PATH"; fi

for tool in pg_dump pg_restore createdb dropdb psql; do
  command -v "$tool" >/dev/null ||
    { echo "$tool not found: apt-get install postgresql-client"; exit 1; }
done

# The server of DATABASE_URL, with its query string (sslmode=…) kept for every database.
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${url%%\?*}"
query="${url#"$base"}"
server="${base%/*}"
prefix="${BACKUP_DB_PREFIX:-giftcast_backup}"
source_db="${prefix}_src_$$"
RESTORE_DB="${prefix}_dst_$$"
ADMIN_URL="$server/postgres$query"
SOURCE_URL="$server/$source_db$query"
RESTORE_URL="$server/$RESTORE_DB$query"
work=$(mktemp -d)
BACKUP="$work/giftcast.dump"

cleanup() {
  for db in "$source_db" "$RESTORE_DB"; do
    dropdb --if-exists --force --maintenance-db="$ADMIN_URL" "$db" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The embedded default's settings against PostgreSQL: seed_demo refuses production
# settings, and the rehearsal needs no Redis, Stripe or email.
export DJANGO_SETTINGS_MODULE=config.settings.local
export PAYMENT_PROVIDER=simulated EMAIL_URL=dummymail://
unset REDIS_URL STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_PUBLISHABLE_KEY
fail() { echo "FAIL: $*"; exit 1; }

echo "== a source database with money in it ($source_db)"
createdb --maintenance-db="$ADMIN_URL" "$source_db"
export DATABASE_URL="$SOURCE_URL"
python manage.py migrate --noinput >/dev/null
python manage.py seed_demo >/dev/null
# seed_demo bought coins and sent gifts; add a refund, a staff adjustment, a payout paid,
# a roll-up (so settled balances and their watermarks are part of what is restored) and
# gifts after it, each through the services the site uses.
python manage.py shell --no-imports -c "
import uuid

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from accounts.models import User
from livestreams.models import Stream, StreamStatus
from livestreams.services import gift_send
from payouts.models import PayoutMethodKind, PayoutStatus
from payouts.services import payout_approve, payout_method_set, payout_request, payout_transition
from wallet.demo import paid_recharge
from wallet.ledger import ledger_rollup
from wallet.models import Unit
from wallet.services import adjustment_post, recharge_refund

fan = User.objects.get(email='fan@example.com')
creator = User.objects.get(email='creator@example.com')
staff = User.objects.get(email='staff@example.com')
refunded = paid_recharge(user=fan, session_id='cs_sim_rehearsal_refund', coins=700)
recharge_refund(user=fan, recharge_id=refunded.pk)
adjustment_post(owner=fan, unit=Unit.COIN, amount=25, reason='Rehearsal: goodwill', staff=staff)
TOTP.activate(creator, generate_totp_secret())
payout_method_set(creator=creator, kind=PayoutMethodKind.PAYPAL, paypal_email='creator@example.com')
payout = payout_request(creator=creator, diamonds=2000, key='rehearsal-payout')
payout_approve(payout_id=payout.pk, by=staff)
payout_transition(payout_id=payout.pk, to=PayoutStatus.PAID, by=staff, reference='PAYPAL-REHEARSAL')
ledger_rollup()
stream = Stream.objects.get(creator=creator, status=StreamStatus.LIVE)
for slug, quantity, anonymous in [('rose', 5, False), ('galaxy', 1, False), ('perfume', 2, True)]:
    gift_send(sender=fan, stream_id=stream.pk, gift_slug=slug, quantity=quantity,
              key=str(uuid.uuid4()), anonymous=anonymous)
"
python manage.py ledger_audit >/dev/null || fail "the source's books do not balance"

echo "== backup, restore into $RESTORE_DB, audit, compare (docs/operations.md)"
# As on a server: DATABASE_URL is the database to back up.
pg_dump --format=custom --file="$BACKUP" "$DATABASE_URL"
createdb --maintenance-db="$ADMIN_URL" "$RESTORE_DB"
pg_restore --exit-on-error --no-owner --dbname="$RESTORE_URL" "$BACKUP"
DATABASE_URL="$RESTORE_URL" python manage.py ledger_audit
psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -f deploy/ledger-summary.sql -o "$BACKUP.source"
psql "$RESTORE_URL" -XAtq -v ON_ERROR_STOP=1 -f deploy/ledger-summary.sql -o "$BACKUP.restored"
sed 's/^/  /' "$BACKUP.source"
diff "$BACKUP.source" "$BACKUP.restored" ||
  fail "the restored copy differs from its source (< source, > restored)"
echo "the restored copy agrees with its source on every line above"

echo "== the restored copy takes the next gift"
DATABASE_URL="$RESTORE_URL" python manage.py shell --no-imports -c "
import uuid

from accounts.models import User
from livestreams.models import Stream, StreamStatus
from livestreams.services import gift_send

fan = User.objects.get(email='fan@example.com')
stream = Stream.objects.get(creator__email='creator@example.com', status=StreamStatus.LIVE)
result = gift_send(
    sender=fan, stream_id=stream.pk, gift_slug='corgi', quantity=1, key=str(uuid.uuid4())
)
print(f'gift {result.sent.pk} sent; the fan holds {result.balance:,} coins')
"
DATABASE_URL="$RESTORE_URL" python manage.py ledger_audit >/dev/null ||
  fail "the restored copy's books do not balance after a gift"

echo "== backup and restore passed"
