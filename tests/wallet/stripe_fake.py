"""A small fake of Stripe's HTTP API (the endpoints Giftcast calls), for the real `stripe` library."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    form: dict


@dataclass
class FakeStripe:
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict] = field(default_factory=dict)
    fail_create: bool = False
    url: str = ""
    # Stripe Connect (payouts): Express accounts, Account Links, Transfers and reversals.
    accounts: dict[str, dict] = field(default_factory=dict)
    transfers: dict[str, dict] = field(default_factory=dict)
    fail_transfer: bool = False
    fail_reversal: bool = False
    # Refunds of recharges (a fan's self-serve refund).
    refunds: dict[str, dict] = field(default_factory=dict)
    fail_refund: bool = False

    def pay(self, session_id: str) -> None:
        self.sessions[session_id]["payment_status"] = "paid"
        self.sessions[session_id]["status"] = "complete"
        self.sessions[session_id]["payment_intent"] = f"pi_{session_id}"

    def enable_payouts(self, account_id: str) -> None:
        self.accounts[account_id].update(payouts_enabled=True, details_submitted=True)


def _handler(fake: FakeStripe):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Request-Id", "req_fake")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            rec = Recorded(self.command, self.path, dict(self.headers), form)
            fake.requests.append(rec)
            return rec

        def _connect_post(self, rec: Recorded):
            path = self.path
            if path == "/v1/refunds":
                if fake.fail_refund:
                    return self._reply(
                        400,
                        {"error": {"type": "invalid_request_error", "code": "charge_already_refunded",
                                   "message": "Charge has already been refunded."}},
                    )  # fmt: skip
                refund_id = f"re_test_{len(fake.refunds) + 1}"
                fake.refunds[refund_id] = {
                    "id": refund_id, "object": "refund", "status": "succeeded",
                    "payment_intent": rec.form.get("payment_intent"),
                    "amount": int(rec.form["amount"]) if "amount" in rec.form else None,
                }  # fmt: skip
                return self._reply(200, fake.refunds[refund_id])
            if path == "/v1/accounts":
                account_id = f"acct_test{len(fake.accounts) + 1:04d}wxyz"
                fake.accounts[account_id] = {
                    "id": account_id,
                    "object": "account",
                    "type": rec.form.get("type"),
                    "email": rec.form.get("email"),
                    "payouts_enabled": False,
                    "details_submitted": False,
                }
                return self._reply(200, fake.accounts[account_id])
            if path == "/v1/account_links":
                account_id = rec.form.get("account", "")
                if account_id not in fake.accounts:
                    return self._reply(
                        400,
                        {"error": {"type": "invalid_request_error", "message": "No such account"}},
                    )
                return self._reply(
                    200,
                    {
                        "object": "account_link",
                        "url": f"https://connect.stripe.com/setup/e/{account_id}/link",
                        "expires_at": 2_000_000_000,
                    },
                )
            if path == "/v1/transfers":
                if fake.fail_transfer:
                    return self._reply(
                        400,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "code": "balance_insufficient",
                                "message": "You have insufficient available funds in your Stripe account.",
                            }
                        },
                    )
                transfer_id = f"tr_test_{len(fake.transfers) + 1}"
                fake.transfers[transfer_id] = {
                    "id": transfer_id,
                    "object": "transfer",
                    "amount": int(rec.form["amount"]),
                    "currency": rec.form["currency"],
                    "destination": rec.form["destination"],
                    "reversed": False,
                }
                return self._reply(200, fake.transfers[transfer_id])
            if path.startswith("/v1/transfers/") and path.endswith("/reversals"):
                transfer = fake.transfers.get(path.split("/")[3])
                if transfer is None or fake.fail_reversal:
                    return self._reply(
                        400,
                        {"error": {"type": "invalid_request_error", "message": "Cannot reverse"}},
                    )
                transfer["reversed"] = True
                return self._reply(
                    200,
                    {"id": f"trr_{transfer['id']}", "object": "transfer_reversal",
                     "amount": transfer["amount"], "transfer": transfer["id"]},
                )  # fmt: skip
            return self._reply(
                404, {"error": {"type": "invalid_request_error", "message": "no route"}}
            )

        def do_POST(self):
            rec = self._record()
            if self.path != "/v1/checkout/sessions":
                return self._connect_post(rec)
            if fake.fail_create:
                return self._reply(
                    400, {"error": {"type": "invalid_request_error", "message": "Invalid currency"}}
                )
            session_id = f"cs_test_{len(fake.sessions) + 1}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "amount_total": int(rec.form["line_items[0][price_data][unit_amount]"]),
                "currency": rec.form["line_items[0][price_data][currency]"],
                "client_reference_id": rec.form.get("client_reference_id"),
                "payment_status": "unpaid",
                "status": "open",
                "payment_intent": None,
            }
            fake.sessions[session_id] = session
            return self._reply(200, session)

        def do_GET(self):
            self._record()
            if self.path.startswith("/v1/accounts/"):
                account = fake.accounts.get(self.path.removeprefix("/v1/accounts/").split("?")[0])
                if account is None:
                    return self._reply(
                        404,
                        {"error": {"type": "invalid_request_error", "message": "No such account"}},
                    )
                return self._reply(200, account)
            prefix = "/v1/checkout/sessions/"
            session = fake.sessions.get(self.path.removeprefix(prefix).split("?")[0])
            if not self.path.startswith(prefix) or session is None:
                return self._reply(
                    404, {"error": {"type": "invalid_request_error", "message": "No such session"}}
                )
            return self._reply(200, session)

    return Handler


def start() -> tuple[FakeStripe, ThreadingHTTPServer]:
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
