"""Who may open what: every URL pattern of the site, visited as each kind of visitor.

The patterns are read from the urlconfs when the tests run (allauth's and admin's included),
so a page added tomorrow fails `test_every_url_pattern_has_an_expectation` until it has a
row in MATRIX below. Each visit must answer as the row says, never 500, and never show
another person's data (their email, purchases, payouts, overlay link).

The people: a fan and another fan, each with their own purchases; a creator and another
creator, each with a live stream (the fans' gifts), a PayPal payout method and a payout
request; staff (a superuser); and a fan who gifted anonymously, whom no page names. Objects
in URLs belong to the fan (purchases) and to the creator (stream, payout, profile), so
"other_fan" and "other_creator" are the people who must not see them.

Admin pages follow one rule (admin_rule) rather than rows: staff get in, nobody else does.
State-changing POSTs by the wrong people are refused and change nothing (REFUSALS).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Follow
from livestreams.models import Stream
from livestreams.services import chat_send, room_ban
from payouts.models import ExchangeRate, Payout, PayoutMethod, PayoutTerms, StripeAccount
from payouts.services import payout_request
from tests.accounts.factories import UserFactory
from tests.payouts.factories import earning_creator, send, sent_at
from tests.wallet.factories import fund, wallet_of
from wallet.ledger import account_balance
from wallet.limits import limit_set
from wallet.models import LimitKind, Recharge, Transaction, WebhookEvent
from wallet.payments import SimulatedProvider, sign_payload
from wallet.services import recharge_create
from wallet.webhooks import webhook_receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_balance")]

ROLES = ("anon", "fan", "other_fan", "creator", "other_creator", "staff")

# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """What a visit must get: a status, and for a redirect where it goes (the path, or a
    function of the world and the role), for a page which template it shows."""

    status: int
    to: str | Callable | None = None
    template: str | None = None
    content_type: str | None = None

    def problem(self, response, world, role) -> str | None:
        if response.status_code != self.status:
            where = f" to {response['Location']}" if response.has_header("Location") else ""
            return f"answered {response.status_code}{where}, expected {self.status}"
        if self.to is not None:
            to = self.to(world, role) if callable(self.to) else self.to
            if urlparse(response["Location"]).path != to:
                return f"went to {response['Location']}, expected {to}"
        if self.template and self.template not in [t.name for t in response.templates]:
            return f"did not show {self.template}"
        if self.content_type and not response["Content-Type"].startswith(self.content_type):
            return f"sent {response['Content-Type']}, expected {self.content_type}"
        return None


def page(template: str) -> Answer:
    return Answer(200, template=template)


OK = Answer(200)
CSV = Answer(200, content_type="text/csv")
LOGIN = Answer(302, to="/accounts/login/")
HOME = Answer(302, to="/")
REAUTH = Answer(302, to="/accounts/reauthenticate/")
NOT_FOUND = Answer(404)
POST_ONLY = Answer(405)
BAD_REQUEST = Answer(400)
# A signed-in non-creator on a creator page sees the checklist of what is missing.
CHECKLIST = page("accounts/become_creator.html")
OWN_ROOM = Answer(302, to=lambda w, role: getattr(w, role).live.get_absolute_url())
THE_ROOM = Answer(302, to=lambda w, role: w.stream.get_absolute_url())
ADMIN_LOGIN = Answer(302, to="/admin/login/")
CODE = Answer(302, to="/accounts/reauthenticate/code/")
CHANGE_PASSWORD = Answer(302, to="/accounts/password/change/")
RESULT = page("wallet/recharge_result.html")
CHECKOUT = page("wallet/simulated_checkout.html")
GO_LIVE = page("livestreams/go_live.html")
DASHBOARD = page("payouts/dashboard.html")
PAYOUTS = page("payouts/payouts.html")
METHOD = page("payouts/method.html")
DETAIL = page("payouts/payout_detail.html")
ICON = Answer(302, to="/static/img/favicon.ico")

# ----------------------------------------------------------------------------- the matrix

# Arguments for the patterns that take some, built from the world's real objects.
KWARGS: dict[str, Callable[[SimpleNamespace], dict]] = {
    "wallet:recharge_success": lambda w: {"pk": w.recharge.pk},
    "wallet:recharge_cancel": lambda w: {"pk": w.recharge.pk},
    "wallet:recharge_refund": lambda w: {"pk": w.recharge.pk},
    "wallet:simulated_checkout": lambda w: {"session_id": w.pending.provider_session_id},
    "livestreams:room": lambda w: {"pk": w.stream.pk},
    "livestreams:end": lambda w: {"pk": w.stream.pk},
    "livestreams:overlay_reset": lambda w: {"pk": w.stream.pk},
    "overlay": lambda w: {"token": w.stream.overlay_token},
    "payouts:detail": lambda w: {"pk": w.payout.pk},
    "accounts:profile": lambda w: {"handle": w.creator.profile.handle},
    "accounts:follow": lambda w: {"handle": w.creator.profile.handle},
    "accounts:unfollow": lambda w: {"handle": w.creator.profile.handle},
    "account_confirm_email": lambda w: {"key": "no-such-key"},
    "account_reset_password_from_key": lambda w: {"uidb36": "1", "key": "no-such-key"},
    "admin:payouts_payout_act": lambda w: {"pk": w.payout.pk},  # for REFUSALS
}

# One row per URL pattern (its name, or its route if it has none), one column per role.
# fmt: off
MATRIX: dict[str, tuple[Answer, ...]] = {
    # pattern                                 anon       fan        other_fan  creator    other_creator staff
    "home":                                   (OK,       OK,        OK,        OK,        OK,        OK),
    "favicon":                                (ICON,     ICON,      ICON,      ICON,      ICON,      ICON),
    "healthz":                                (OK,       OK,        OK,        OK,        OK,        OK),
    "readyz":                                 (OK,       OK,        OK,        OK,        OK,        OK),
    # allauth: accounts
    "account_login":                          (OK,       HOME,      HOME,      HOME,      HOME,      HOME),
    "account_signup":                         (OK,       HOME,      HOME,      HOME,      HOME,      HOME),
    "account_logout":                         (HOME,     OK,        OK,        OK,        OK,        OK),
    "account_inactive":                       (OK,       OK,        OK,        OK,        OK,        OK),
    "account_reauthenticate":                 (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "account_request_reauthentication_code":  (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "account_confirm_reauthentication_code":  (LOGIN,    CODE,      CODE,      CODE,      CODE,      CODE),
    "account_email":                          (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "account_email_verification_sent":        (OK,       OK,        OK,        OK,        OK,        OK),
    "account_confirm_email":                  (OK,       OK,        OK,        OK,        OK,        OK),
    "account_change_password":                (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "account_set_password":                   (LOGIN,    CHANGE_PASSWORD, CHANGE_PASSWORD, CHANGE_PASSWORD, CHANGE_PASSWORD, CHANGE_PASSWORD),
    "account_reset_password":                 (OK,       OK,        OK,        OK,        OK,        OK),
    "account_reset_password_done":            (OK,       OK,        OK,        OK,        OK,        OK),
    "account_reset_password_from_key":        (OK,       OK,        OK,        OK,        OK,        OK),
    "account_reset_password_from_key_done":   (OK,       OK,        OK,        OK,        OK,        OK),
    "account_confirm_login_code":             (LOGIN,    HOME,      HOME,      HOME,      HOME,      HOME),
    # allauth: two-factor (the creators have TOTP and recovery codes, nobody else has)
    "mfa_index":                              (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "mfa_authenticate":                       (LOGIN,    HOME,      HOME,      HOME,      HOME,      HOME),
    "mfa_reauthenticate":                     (LOGIN,    REAUTH,    REAUTH,    OK,        OK,        REAUTH),
    "mfa_activate_totp":                      (LOGIN,    REAUTH,    REAUTH,    REAUTH,    REAUTH,    REAUTH),
    "mfa_deactivate_totp":                    (LOGIN,    NOT_FOUND, NOT_FOUND, REAUTH,    REAUTH,    NOT_FOUND),
    "mfa_view_recovery_codes":                (LOGIN,    NOT_FOUND, NOT_FOUND, REAUTH,    REAUTH,    NOT_FOUND),
    "mfa_generate_recovery_codes":            (LOGIN,    REAUTH,    REAUTH,    REAUTH,    REAUTH,    REAUTH),
    "mfa_download_recovery_codes":            (LOGIN,    NOT_FOUND, NOT_FOUND, REAUTH,    REAUTH,    NOT_FOUND),
    # accounts: the profile is the creator's
    "accounts:profile":                       (OK,       OK,        OK,        OK,        OK,        OK),
    "accounts:profile_edit":                  (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "accounts:become_creator":                (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "accounts:follow":                        (LOGIN,    POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
    "accounts:unfollow":                      (LOGIN,    POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
    # wallet: the purchases are the fan's
    "wallet:balance":                         (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "wallet:recharge":                        (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "wallet:recharge_success":                (LOGIN,    RESULT,    NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "wallet:recharge_cancel":                 (LOGIN,    RESULT,    NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "wallet:recharge_refund":                 (LOGIN,    POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
    "wallet:simulated_checkout":              (LOGIN,    CHECKOUT,  NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "wallet:history":                         (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "wallet:history_csv":                     (LOGIN,    CSV,       CSV,       CSV,       CSV,       CSV),
    "wallet:statement":                       (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "wallet:limits":                          (LOGIN,    OK,        OK,        OK,        OK,        OK),
    "wallet:stripe_webhook":                  (POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
    # livestreams: the stream is the creator's (a creator already live is sent to their room)
    "livestreams:discover":                   (OK,       OK,        OK,        OK,        OK,        OK),
    "livestreams:go_live":                    (LOGIN,    GO_LIVE,   GO_LIVE,   OWN_ROOM,  OWN_ROOM,  GO_LIVE),
    "livestreams:room":                       (OK,       OK,        OK,        OK,        OK,        OK),
    "livestreams:end":                        (LOGIN,    POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
    "livestreams:overlay_reset":              (LOGIN,    POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
    "overlay":                                (OK,       OK,        OK,        OK,        OK,        OK),
    # payouts: the payout is the creator's; the Stripe Connect pages are 404 while payouts are manual
    "payouts:dashboard":                      (LOGIN,    CHECKLIST, CHECKLIST, DASHBOARD, DASHBOARD, CHECKLIST),
    "payouts:earnings_csv":                   (LOGIN,    CHECKLIST, CHECKLIST, CSV,       CSV,       CHECKLIST),
    "payouts:payouts":                        (LOGIN,    CHECKLIST, CHECKLIST, PAYOUTS,   PAYOUTS,   CHECKLIST),
    "payouts:method":                         (LOGIN,    CHECKLIST, CHECKLIST, METHOD,    METHOD,    CHECKLIST),
    "payouts:detail":                         (LOGIN,    CHECKLIST, CHECKLIST, DETAIL,    NOT_FOUND, CHECKLIST),
    "payouts:stripe_connect":                 (LOGIN,    CHECKLIST, CHECKLIST, NOT_FOUND, NOT_FOUND, CHECKLIST),
    "payouts:stripe_return":                  (LOGIN,    CHECKLIST, CHECKLIST, NOT_FOUND, NOT_FOUND, CHECKLIST),
    "payouts:stripe_webhook":                 (POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY, POST_ONLY),
}
# fmt: on

# ----------------------------------------------------------------------------- the patterns


@dataclass(frozen=True)
class Route:
    key: str  # the pattern's namespaced name, or its route when it has none
    route: str
    namespaces: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.namespaces[:1] == ("admin",)

    @property
    def arguments(self) -> list[str]:
        return [a or b for a, b in re.findall(r"\(\?P<(\w+)>|<(?:\w+:)?(\w+)>", self.route)]


def routes(patterns=None, prefix: str = "", namespaces: tuple[str, ...] = ()) -> Iterator[Route]:
    """Every URL pattern the site answers, from the urlconfs as they are now."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespaces + ((pattern.namespace,) if pattern.namespace else ())
            yield from routes(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            key = ":".join(namespaces + (pattern.name,)) if pattern.name else route
            yield Route(key=key, route=route, namespaces=namespaces)


def _fill(route: str, kwargs: dict) -> str:
    """The URL of `route` with its arguments (path converters or regex groups) filled in."""

    def value(match) -> str:
        return str(kwargs[match.group("name")])

    path = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", value, route)
    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, path)
    return "/" + path.replace("^", "").replace("$", "")


# ----------------------------------------------------------------------------- the world


def _opened(user, coins: int) -> Recharge:
    return recharge_create(
        user=user, currency="USD", custom_coins=coins,
        success_url="http://testserver/s/", cancel_url="http://testserver/c/",
    )  # fmt: skip


def _bought(user, coins: int) -> Recharge:
    """A purchase paid the way the simulated checkout pays: a signed event."""
    recharge = _opened(user, coins)
    payload = SimulatedProvider.completed_event(recharge)
    result = webhook_receive(payload=payload.encode(), signature=sign_payload(payload))
    assert result.status_code == 200, result.message
    recharge.refresh_from_db()
    return recharge


def _world() -> SimpleNamespace:
    w = SimpleNamespace()
    w.fan = UserFactory(email="fan.one@example.com", profile__handle="matrixfan")
    w.other_fan = UserFactory(email="fan.two@example.com", profile__handle="otherfan")
    for fan in (w.fan, w.other_fan):
        fund(fan, 10_000)
    # Each fan sends ten Galaxies into one creator's stream; cleared, so payouts can be asked.
    w.creator, w.stream, _ = earning_creator(
        gifts=10, fan=w.fan, email="creator.one@example.com", profile__handle="matrixcreator"
    )
    w.other_creator, w.other_stream, _ = earning_creator(
        gifts=10, fan=w.other_fan, email="creator.two@example.com",
        profile__handle="othercreator",
    )  # fmt: skip
    for stream in (w.stream, w.other_stream):
        sent_at(stream, dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    w.creator.live, w.other_creator.live = w.stream, w.other_stream
    # Someone who gifts anonymously is named to nobody, the creator included.
    admirer = UserFactory(profile__handle="secretadmirer")
    fund(admirer, 100)
    send(admirer, w.stream, "perfume", anonymous=True)
    w.payout = payout_request(creator=w.creator, diamonds=2_346, key=str(uuid.uuid4()))
    w.other_payout = payout_request(creator=w.other_creator, diamonds=2_468, key=str(uuid.uuid4()))
    # Bought after the gifts, so the fan may still refund it; and a checkout left open.
    w.recharge = _bought(w.fan, 4_321)
    w.pending = _opened(w.fan, 1_234)
    w.other_recharge = _bought(w.other_fan, 8_765)
    w.staff = UserFactory(is_staff=True, is_superuser=True, email="staff.one@example.com")
    # A row of each model admin shows that nothing above made, so every change page renders.
    Group.objects.create(name="Moderators")
    limit_set(user=w.other_fan, kind=LimitKind.MONTHLY, currency="USD", amount_minor=100_000)
    chat_send(user=w.other_fan, stream_id=w.other_stream.pk, text="Hello from the matrix")
    room_ban(stream=w.other_stream, user=UserFactory(), by=w.other_creator)
    StripeAccount.objects.create(creator=w.other_creator, account_id="acct_matrix_other")
    PayoutTerms.objects.create(
        creator=w.other_creator, minimum_usd=Decimal("10.00"), reason="Matrix", set_by=w.staff
    )
    ExchangeRate.objects.create(currency="EUR", per_usd=Decimal("0.92"))
    # What only its owner (and staff, in admin) may see.
    w.secrets = {
        "fan": _fan_secrets(w.fan, w.recharge, w.pending, "4,321"),
        "other_fan": _fan_secrets(w.other_fan, w.other_recharge, None, "8,765"),
        "creator": _creator_secrets(w.creator, w.stream, w.payout, "2,346"),
        "other_creator": _creator_secrets(w.other_creator, w.other_stream, w.other_payout, "2,468"),
        "staff": [w.staff.email],
        "admirer": [admirer.email, admirer.profile.handle],
    }
    return w


def _fan_secrets(fan, recharge, pending, coins: str) -> list[str]:
    secrets = [fan.email, coins, f"/wallet/recharge/{recharge.pk}/"]
    if pending is not None:
        secrets += [pending.provider_session_id, f"/wallet/recharge/{pending.pk}/"]
    return secrets


def _creator_secrets(creator, stream, payout, diamonds: str) -> list[str]:
    method = payout.method.masked  # all of it the owner sees too
    return [creator.email, method, stream.overlay_token, diamonds, f"/creator/payouts/{payout.pk}/"]


def _url(name: str, w) -> str:
    return reverse(name, kwargs=KWARGS[name](w) if name in KWARGS else None)


def _client(w, role: str) -> Client:
    client = Client(raise_request_exception=False)  # a 500 is an answer to report
    if role != "anon":
        client.force_login(getattr(w, role))
    return client


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode(errors="replace")


def _leak(response, w, role: str) -> str | None:
    body = _body(response)
    for owner, secrets in w.secrets.items():
        if owner == role:
            continue
        for secret in secrets:
            if secret in body:
                return f"shows {owner}'s {secret!r}"
    return None


# ----------------------------------------------------------------------------- the tests


def test_every_url_pattern_has_an_expectation():
    """A new page fails here until MATRIX says who may open it (admin pages: admin_rule)."""
    site = [r for r in routes() if not r.is_admin]
    missing = [r.key for r in site if r.key not in MATRIX]
    assert not missing, (
        f"URL patterns with no expectation: {missing}. Add a row for each to MATRIX in "
        "tests/config/test_authorisation_matrix.py (and a KWARGS builder if it takes arguments)."
    )
    no_arguments = [r.key for r in site if r.arguments and r.key not in KWARGS]
    assert not no_arguments, (
        f"URL patterns whose arguments nobody builds: {no_arguments}. Add a KWARGS builder "
        "from the world's objects."
    )
    keys = {r.key for r in site}
    assert not [k for k in MATRIX if k not in keys], "MATRIX rows for patterns that are gone"
    unknown = {a for r in routes() if r.is_admin for a in r.arguments} - ADMIN_ARGUMENTS
    assert not unknown, (
        f"Admin URL arguments the rule can't fill: {unknown}. Teach _admin_kwargs to build them."
    )
    assert all(len(row) == len(ROLES) for row in MATRIX.values())


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_the_matrix_says(role):
    w = _world()
    problems = []
    for route in routes():
        if route.is_admin or route.key not in MATRIX:
            continue
        url = _url(route.key, w)
        response = _client(w, role).get(url)
        expected = MATRIX[route.key][ROLES.index(role)]
        problem = expected.problem(response, w, role) or _leak(response, w, role)
        if problem:
            problems.append(f"{route.key} ({url}): {problem}")
    assert not problems, f"As {role}:\n" + "\n".join(problems)


def test_what_the_leak_check_looks_for_is_on_its_owners_pages():
    """Else the check could never fail: the fan sees their purchases, the creator their
    payout, payout method and overlay link."""
    w = _world()
    for role in ("fan", "creator", "staff"):
        bodies = []
        for route in routes():
            if not route.is_admin and route.key in MATRIX:
                bodies.append(_body(_client(w, role).get(_url(route.key, w))))
        unseen = [s for s in w.secrets[role] if not any(s in body for body in bodies)]
        assert not unseen, f"{role} never sees {unseen}"


# ----------------------------------------------------------------------------- admin

ADMIN_ARGUMENTS = {"object_id", "pk", "id", "app_label", "content_type_id", "url"}


def _admin_models() -> dict[tuple[str, str], type]:
    return {(m._meta.app_label, m._meta.model_name): m for m in admin.site._registry}


def _admin_kwargs(route: Route, w) -> list[dict]:
    """Arguments for an admin URL: a real row of its model, each app, the stream's page."""
    names = route.arguments
    if not names:
        return [{}]
    if "app_label" in names:
        return [{"app_label": label} for label in sorted({a for a, _ in _admin_models()})]
    if "content_type_id" in names:
        return [{"content_type_id": ContentType.objects.get_for_model(Stream).pk,
                 "object_id": w.stream.pk}]  # fmt: skip
    if "url" in names:
        return [{"url": "no-such-page/"}]
    _, app_label, model_name, *_ = route.route.split("/")
    row = _admin_models()[app_label, model_name]._default_manager.order_by("pk").first()
    return [{names[0]: row.pk}]


# Staff: the admin's own answers by view; anything else only has to be no error and not the
# login page. Everybody else sees nothing but the admin's login page.
STAFF_ADMIN = {
    "admin:login": Answer(302, to="/admin/"),
    "admin:logout": POST_ONLY,
    "admin:index": OK,
    "admin:app_list": OK,
}
STAFF_ADMIN_VIEWS = {"changelist": {200}, "change": {200}, "history": {200}, "add": {200, 403},
                     "delete": {200, 403}}  # fmt: skip
OTHERS_ADMIN = {"admin:login": OK, "admin:logout": Answer(302, to="/admin/")}


def admin_rule(route: Route, response, w, role: str) -> str | None:
    if role != "staff":
        answer = OTHERS_ADMIN.get(route.key, ADMIN_LOGIN)
        return answer.problem(response, w, role) or _leak(response, w, role)
    if route.key in STAFF_ADMIN:
        return STAFF_ADMIN[route.key].problem(response, w, role)
    if response.status_code >= 500:
        return f"answered {response.status_code}"
    if urlparse(response.get("Location", "")).path == "/admin/login/":
        return "sent staff to log in"
    wanted = STAFF_ADMIN_VIEWS.get(route.key.rsplit("_", 1)[-1])
    if wanted and response.status_code not in wanted:
        return f"answered {response.status_code}, expected one of {sorted(wanted)}"
    return None


def test_the_world_has_a_row_of_every_model_in_admin():
    """So that each model's change page is visited with a real object."""
    _world()
    empty = [m.__name__ for m in admin.site._registry if not m._default_manager.exists()]
    assert not empty, f"Give _world() a row of {empty}, so their admin pages are visited."


@pytest.mark.parametrize("role", ROLES)
def test_admin_lets_staff_in_and_nobody_else(role):
    w = _world()
    problems = []
    for route in routes():
        if not route.is_admin:
            continue
        for kwargs in _admin_kwargs(route, w):
            url = _fill(route.route, kwargs)
            response = _client(w, role).get(url)
            problem = admin_rule(route, response, w, role)
            if problem:
                problems.append(f"{route.key} ({url}): {problem}")
    assert not problems, f"As {role}:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------- POSTs


@dataclass(frozen=True)
class Refusal:
    """A state-changing POST by people who may not make it: refused, and nothing changes.
    The owner's own POST afterwards does change it, so `state` can tell."""

    name: str
    by: tuple[str, ...]
    answer: Answer
    state: Callable[[SimpleNamespace], object]
    data: dict | None = None
    owner: str | None = None


def _purchase(w):
    recharge = Recharge.objects.get(pk=w.recharge.pk)
    clawbacks = Transaction.objects.filter(idempotency_key=f"clawback:{recharge.pk}").count()
    return recharge.status, account_balance(wallet_of(w.fan)), clawbacks


def _checkout(w):
    return Recharge.objects.get(pk=w.pending.pk).status, account_balance(wallet_of(w.fan))


def _stream(w):
    stream = Stream.objects.get(pk=w.stream.pk)
    return stream.status, stream.overlay_token


def _streams(w):
    return sorted(Stream.objects.values_list("creator_id", "status"))


def _payouts(w):
    return sorted(Payout.objects.values_list("creator_id", "diamonds", "status"))


def _payout_status(w):
    return Payout.objects.get(pk=w.payout.pk).status


def _follows(w):
    return Follow.objects.filter(followee=w.creator).count()


def _methods(w):
    return sorted(PayoutMethod.objects.values_list("creator_id", "kind", "paypal_email"))


def _webhooks(w):
    return WebhookEvent.objects.count(), _purchase(w), _checkout(w)


GO_LIVE_NO = Answer(400, template="livestreams/go_live.html")  # the checklist says why
CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "A Fan"}
PAYOUT = {"diamonds": "2000", "key": str(uuid.uuid4())}
PAYPAL = {"kind": "paypal", "paypal_email": "taker@example.com"}
FANS_AND_OTHER_CREATOR = ("fan", "other_fan", "other_creator")
NOT_THE_FAN = ("other_fan", "creator", "other_creator", "staff")
NOT_CREATORS = ("fan", "other_fan", "staff")
NOT_STAFF = ("anon", "fan", "other_fan", "creator", "other_creator")

# fmt: off
REFUSALS = [
    #       pattern                       POSTed by               answer       unchanged       data                 the one who may
    Refusal("wallet:recharge_refund",     NOT_THE_FAN,            NOT_FOUND,   _purchase,                           owner="fan"),
    Refusal("wallet:recharge_refund",     ("anon",),              LOGIN,       _purchase),
    Refusal("wallet:simulated_checkout",  NOT_THE_FAN,            NOT_FOUND,   _checkout,      CARD,                owner="fan"),
    Refusal("wallet:simulated_checkout",  ("anon",),              LOGIN,       _checkout,      CARD),
    Refusal("wallet:stripe_webhook",      ("anon", "fan"),        BAD_REQUEST, _webhooks,      {"id": "evt_x"}),
    Refusal("livestreams:go_live",        NOT_CREATORS,           GO_LIVE_NO,  _streams,       {"title": "Mine now"}),
    Refusal("livestreams:end",            FANS_AND_OTHER_CREATOR, THE_ROOM,    _stream,                             owner="creator"),
    Refusal("livestreams:end",            ("anon",),              LOGIN,       _stream),
    Refusal("livestreams:overlay_reset",  FANS_AND_OTHER_CREATOR, THE_ROOM,    _stream,                             owner="creator"),
    Refusal("livestreams:overlay_reset",  ("anon",),              LOGIN,       _stream),
    Refusal("accounts:follow",            ("anon",),              LOGIN,       _follows,                            owner="fan"),
    Refusal("accounts:unfollow",          ("anon",),              LOGIN,       _follows),
    Refusal("payouts:payouts",            NOT_CREATORS,           CHECKLIST,   _payouts,       PAYOUT),
    Refusal("payouts:method",             NOT_CREATORS,           CHECKLIST,   _methods,       PAYPAL),
    Refusal("admin:payouts_payout_act",   NOT_STAFF,              ADMIN_LOGIN, _payout_status, {"action": "approve"}, owner="staff"),
]
# fmt: on


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: f"{r.name}-{'-'.join(r.by)}")
def test_a_post_by_someone_who_may_not_is_refused_and_changes_nothing(
    refusal, django_capture_on_commit_callbacks
):
    w = _world()
    url = _url(refusal.name, w)
    before = refusal.state(w)
    for role in refusal.by:
        with django_capture_on_commit_callbacks(execute=True):
            response = _client(w, role).post(url, refusal.data or {})
        problem = refusal.answer.problem(response, w, role) or _leak(response, w, role)
        assert problem is None, f"{role}'s POST to {url}: {problem}"
        assert refusal.state(w) == before, f"{role}'s POST to {url} changed something"
    if refusal.owner:
        with django_capture_on_commit_callbacks(execute=True):
            response = _client(w, refusal.owner).post(url, refusal.data or {})
        assert response.status_code in (200, 302), response
        assert refusal.state(w) != before, f"the {refusal.owner}'s own POST changed nothing"
