"""A local fake of the Google endpoints the pipeline uses, served over real HTTP for real clients.

- OAuth 2.0 token endpoint (``POST /token``): refresh-token and JWT-bearer (service account) grants.
- Gmail v1 under ``/gmail/v1/users/{user}/``: ``messages.send``, ``messages.list`` (with the
  search terms we use: ``in:sent`` and a quoted phrase, matched against the plain-text body, as
  Gmail's search does), ``messages.get``, ``drafts.create/get/list/send``.

Faults are injected either from a script (``server.script("drafts.send", "429", "lost")``: the
next calls of that method fail in that order) or at random from a seed (``server.rates``):
``429`` (with Retry-After), ``503``, ``lost`` (the message is stored, then a 500 answers: the lost
reply), ``slow`` (answer after the client's timeout). Recipients at ``invalid.example`` are refused
with a 400, as Gmail refuses an invalid To header.

Every stored message is kept in ``server.sent`` so tests can compare the mailbox with the ledger.
"""
from __future__ import annotations

import base64
import collections
import datetime as dt
import email
import email.policy
import itertools
import json
import random
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


# Quota units per method, as Gmail counts them.
COSTS = {"drafts.create": 10, "drafts.send": 100, "drafts.get": 5, "drafts.list": 5,
         "messages.list": 5, "messages.get": 5, "messages.send": 100}


class FakeGoogle:
    def __init__(self, seed: int = 0, client_id: str = "test-client", client_secret: str = "test-secret",
                 refresh_token: str = "test-refresh"):
        self.lock = threading.RLock()
        self.client = (client_id, client_secret, refresh_token)
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.auth_requests: list[dict] = []
        self.sent: dict[str, dict] = {}  # message id -> {"raw": bytes, "to": str, "text": str, "user": str}
        self.drafts: dict[str, dict] = {}
        self.calls: dict[str, int] = defaultdict(int)
        self.faults_served: dict[str, int] = defaultdict(int)
        self._scripts: dict[str, list[str]] = defaultdict(list)
        self.rates: dict[str, float] = {}  # fault -> probability per call of a faultable method
        self.retry_after = 1
        self.slow_seconds = 3.0
        self.rng = random.Random(seed)
        self.quota_per_minute: int | None = None  # per-user units in any 60 s, like Gmail's
        self.usage: dict[str, collections.deque] = defaultdict(collections.deque)  # user -> (time, units)
        self.quota_429s = 0
        self.units_used = 0
        self._ids = itertools.count(1)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    def start(self) -> "FakeGoogle":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- test helpers --------------------------------------------------------------------------
    def script(self, method: str, *faults: str) -> None:
        with self.lock:
            self._scripts[method].extend(faults)

    def sent_to(self) -> list[tuple[str, str]]:
        """(recipient, subject) of every message in Sent."""
        with self.lock:
            return [(m["to"], m["subject"]) for m in self.sent.values()]

    def gmail_extra(self, **over) -> dict:
        """The email connection's extra for a Gmail backend pointed at this server."""
        cid, secret, refresh = self.client
        # No pacing unless a test asks for it: the fake has no quota unless one is set.
        return {"backend": "gmail", "auth": "oauth_user", "client_id": cid, "client_secret": secret,
                "refresh_token": refresh, "token_uri": self.token_uri, "api_endpoint": self.url,
                "units_per_minute": 0, "concurrency": 4, **over}

    # --- behaviour -----------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06x}"

    def _over_quota(self, user: str, method: str) -> float | None:
        """Charge the call to the user's rolling minute; seconds to wait if it does not fit."""
        cost = COSTS[method]
        with self.lock:
            now = time.monotonic()
            window = self.usage[user]
            while window and window[0][0] <= now - 60:
                window.popleft()
            if self.quota_per_minute is not None:
                used = sum(u for _, u in window)
                if used + cost > self.quota_per_minute:
                    self.quota_429s += 1
                    freed, wait = used, 0.0
                    for t, u in window:
                        freed -= u
                        wait = t + 60 - now
                        if freed + cost <= self.quota_per_minute:
                            break
                    return max(wait, 0.01)
            window.append((now, cost))
            self.units_used += cost
            return None

    def _fault(self, method: str) -> str | None:
        with self.lock:
            self.calls[method] += 1
            if self._scripts[method]:
                fault = self._scripts[method].pop(0)
            else:
                fault = None
                for name, p in self.rates.items():
                    if self.rng.random() < p:
                        fault = name
                        break
            if fault and fault != "ok":
                self.faults_served[fault] += 1
                return fault
            return None

    def _store(self, raw_b64: str, user: str) -> tuple[str, dict]:
        raw = base64.urlsafe_b64decode(raw_b64 + "=" * (-len(raw_b64) % 4))
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        entry = {"raw": raw, "to": str(msg["To"] or ""), "subject": str(msg["Subject"] or ""),
                 "text": text.get_content() if text else "", "user": user, "bcc": msg.get_all("Bcc")}
        return self._next_id("m"), entry

    @staticmethod
    def _matches(entry: dict, query: str) -> bool:
        """Gmail search, the part we use: ``in:sent`` and quoted phrases in the body text."""
        phrases = re.findall(r'"([^"]+)"', query)
        return all(p.lower() in entry["text"].lower() for p in phrases)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _reply(self, status: int, body: dict | None = None, headers: dict | None = None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, reason: str = "backendError", headers=None):
                self._reply(status, {"error": {"code": status, "message": message,
                                               "errors": [{"message": message, "domain": "global", "reason": reason}]}},
                            headers)

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                with fake.lock:
                    ok = auth.startswith("Bearer ") and auth[7:] in fake.tokens
                if not ok:
                    self._error(401, "Request had invalid authentication credentials.", "authError")
                return ok

            def _pre_fault(self, method: str, user: str = "me") -> str | None:
                """Quota, then faults that answer before anything is stored. Returns 'lost' for the caller."""
                wait = fake._over_quota(user, method)
                if wait is not None:
                    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=wait)
                    # As Gmail does: no Retry-After header, the time is in the message.
                    self._error(429, "User-rate limit exceeded.  Retry after "
                                f"{until.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z", "rateLimitExceeded")
                    return "answered"
                fault = fake._fault(method)
                if fault == "429":
                    self._error(429, "User-rate limit exceeded (Mail sending)", "rateLimitExceeded",
                                {"Retry-After": str(fake.retry_after)})
                    return "answered"
                if fault == "503":
                    self._error(503, "The service is currently unavailable.")
                    return "answered"
                if fault == "slow":
                    time.sleep(fake.slow_seconds)
                    return None  # the work is done, but the client has given up by now
                return fault

            def do_POST(self):  # noqa: N802
                path = urlparse(self.path).path
                body = self._body()
                if path == "/token":
                    return self._token(body)
                m = re.fullmatch(r"/gmail/v1/users/([^/]+)/(messages/send|drafts/send|drafts)", path)
                if not m:
                    return self._error(404, f"no such endpoint {path}", "notFound")
                if not self._authorised():
                    return
                user, what = m.group(1), m.group(2)
                payload = json.loads(body or b"{}")
                method = {"messages/send": "messages.send", "drafts/send": "drafts.send", "drafts": "drafts.create"}[what]
                fault = self._pre_fault(method, user)
                if fault == "answered":
                    return
                with fake.lock:
                    if what == "drafts":
                        did = fake._next_id("r")
                        mid, entry = fake._store(payload["message"]["raw"], user)
                        fake.drafts[did] = {"message_id": mid, **entry}
                        result = {"id": did, "message": {"id": mid, "labelIds": ["DRAFT"]}}
                    else:
                        if what == "drafts/send":
                            draft = fake.drafts.get(payload.get("id", ""))
                            if draft is None:
                                return self._error(404, "Requested entity was not found.", "notFound")
                            entry = {k: v for k, v in draft.items() if k != "message_id"}
                            mid = draft["message_id"]
                        else:
                            mid, entry = fake._store(payload["raw"], user)
                        if "invalid.example" in entry["to"]:
                            return self._error(400, "Invalid To header", "invalidArgument")
                        if what == "drafts/send":
                            del fake.drafts[payload["id"]]
                        fake.sent[mid] = entry
                        result = {"id": mid, "threadId": mid, "labelIds": ["SENT"]}
                if fault == "lost":
                    return self._error(500, "Backend Error")  # stored, but the reply is lost
                self._reply(200, result)

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/auth":  # the consent screen: the user says yes at once
                    with fake.lock:
                        fake.auth_requests.append(query)
                    location = f"{query['redirect_uri']}?code=fake-auth-code&state={query.get('state', '')}&scope=" \
                               + "+".join(query.get("scope", "").split())
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                m = re.fullmatch(r"/gmail/v1/users/([^/]+)/(messages|drafts)(?:/([^/]+))?", url.path)
                if not m:
                    return self._error(404, f"no such endpoint {url.path}", "notFound")
                if not self._authorised():
                    return
                what, ident = m.group(2), m.group(3)
                method = f"{what}.{'get' if ident else 'list'}"
                if self._pre_fault(method, m.group(1)) == "answered":
                    return
                with fake.lock:
                    store = fake.sent if what == "messages" else fake.drafts
                    if ident:
                        if ident not in store:
                            return self._error(404, "Requested entity was not found.", "notFound")
                        e = store[ident]
                        if what == "drafts":
                            return self._reply(200, {"id": ident, "message": {"id": e["message_id"]}})
                        return self._reply(200, {"id": ident, "threadId": ident, "labelIds": ["SENT"],
                                                 "snippet": e["text"][:100]})
                    q = query.get("q", "")
                    hits = [i for i, e in store.items() if fake._matches(e, q)]
                    limit = int(query.get("maxResults", 100))
                    key = "messages" if what == "messages" else "drafts"
                    items = [{"id": i, "threadId": i} if what == "messages" else {"id": i, "message": {"id": store[i]["message_id"]}}
                             for i in hits[:limit]]
                    return self._reply(200, {key: items, "resultSizeEstimate": len(hits)} if items
                                       else {"resultSizeEstimate": 0})

            def _token(self, body: bytes):
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                with fake.lock:
                    fake.token_requests += 1
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    if form.get("code") != "fake-auth-code":
                        return self._reply(400, {"error": "invalid_grant"})
                    token = f"ya29.fake-{next(fake._ids)}"
                    with fake.lock:
                        fake.tokens.add(token)
                    return self._reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                                             "refresh_token": fake.client[2],
                                             "scope": " ".join(["https://www.googleapis.com/auth/gmail.compose",
                                                                "https://www.googleapis.com/auth/gmail.readonly"])})
                if grant == "refresh_token":
                    cid, secret, refresh = fake.client
                    if (form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != (cid, secret, refresh):
                        return self._reply(400, {"error": "invalid_grant", "error_description": "Bad credentials"})
                elif grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get("assertion"):
                    return self._reply(400, {"error": "unsupported_grant_type"})
                token = f"ya29.fake-{next(fake._ids)}"
                with fake.lock:
                    fake.tokens.add(token)
                self._reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                                  "scope": " ".join(["https://www.googleapis.com/auth/gmail.compose",
                                                     "https://www.googleapis.com/auth/gmail.readonly"])})

        return Handler
