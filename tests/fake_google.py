"""A local fake of the Google endpoints the pipeline uses, served over real HTTP for real clients.

- OAuth 2.0 token endpoint (``POST /token``): refresh-token and JWT-bearer (service account) grants.
- Gmail v1 under ``/gmail/v1/users/{user}/``: ``messages.send``, ``messages.list`` (with the
  search terms we use: ``in:sent`` and a quoted phrase, matched against the plain-text body, as
  Gmail's search does; ``in:inbox after:<epoch> {from:x to:y ...}`` over the inbox, newest first,
  paged with ``pageToken``), ``messages.get`` (``format=raw`` gives the message's bytes and
  ``internalDate``; ``format=metadata`` with ``metadataHeaders`` gives those headers),
  ``drafts.create/get/list/send``, ``users.getProfile`` (the mailbox's current ``historyId``) and
  ``users.history.list`` (``startHistoryId``, ``historyTypes=messageAdded``, ``labelId``, paged with
  ``maxResults``/``pageToken``; 404 for a start id that has expired or that the mailbox never had,
  as Gmail answers). Every message added (sent or arriving) is a history record with its labels.
  ``server.deliver(raw)`` puts a message in the inbox (a bounce, an unsubscribe mail);
  ``server.expire_history()`` forgets the history so far (Gmail keeps it about a week).
- Sheets v4 under ``/v4/spreadsheets/`` (what gspread calls): ``spreadsheets.get`` (with merges),
  ``:batchUpdate`` (addSheet, updateSheetProperties, deleteSheet), ``values.get`` (unformatted or
  formatted), ``values:batchClear``, ``values:batchUpdate`` (refused beyond the grid, as Sheets
  does), and Drive v3 ``files.get`` for ``modifiedTime``. A spreadsheet id in ``not_shared`` is
  refused with 403, as a sheet not shared with the account is.

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
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from email.utils import getaddresses
from urllib.parse import parse_qs, unquote, urlparse


# Quota units per method, as Gmail counts them (Sheets methods are not charged here).
COSTS = {"drafts.create": 10, "drafts.send": 100, "drafts.get": 5, "drafts.list": 5,
         "messages.list": 5, "messages.get": 5, "messages.send": 100, "getProfile": 1, "history.list": 2}


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
        self.inbox: dict[str, dict] = {}  # message id -> {"raw", "received" (epoch s), "from", "to", "text"}
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
        # The mailbox's history: (history id, message id, labels) per message added, oldest first.
        # Ids grow but are not contiguous (as Gmail's); a start id below the floor has expired.
        self.history: list[tuple[int, str, tuple[str, ...]]] = []
        self.history_id = 4100
        self.history_floor = 0
        # Sheets: id -> {"title", "modified", "shared", "sheets": [{"sheetId", "title", "rows", "cols",
        # "values": [[cell, ...]], "merges": [...]}]}
        self.spreadsheets: dict[str, dict] = {}
        self.sheet_writes: list[str] = []  # the Sheets write methods called, in order
        self.not_shared: set[str] = set()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        # A client killed mid-request (the worker-kill tests) resets its connection: not news.
        base_handle_error = self.httpd.handle_error
        self.httpd.handle_error = lambda request, address: (
            None if isinstance(sys.exc_info()[1], ConnectionError) else base_handle_error(request, address))
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

    def deliver(self, raw: bytes, received: float | None = None) -> str:
        """A message arrives in the account's inbox (at ``received``, epoch seconds; now by default)."""
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        to = msg.get_all("To", []) + msg.get_all("Delivered-To", [])
        with self.lock:
            mid = self._next_id("i")
            self.inbox[mid] = {"raw": raw, "received": time.time() if received is None else received,
                               "from": str(msg.get("From", "")).lower(),
                               "to": " ".join(str(v) for v in to).lower(),
                               "addresses": {"from": {a.lower() for _, a in getaddresses(msg.get_all("From", []))},
                                             "to": {a.lower() for _, a in getaddresses(to)}},
                               "text": ""}
            self._added(mid, ("INBOX", "UNREAD"))
            return mid

    def expire_history(self) -> None:
        """Gmail has dropped the history so far: a read from any earlier id answers 404."""
        with self.lock:
            self.history_floor = self.history_id

    def _added(self, mid: str, labels: tuple[str, ...]) -> None:
        with self.lock:
            self.history_id += 1 + len(self.history) % 5  # not contiguous; not self.rng (fault draws)
            self.history.append((self.history_id, mid, labels))

    def google_extra(self, **over) -> dict:
        """A Google connection's extra (OAuth user) pointed at this server: for Sheets."""
        cid, secret, refresh = self.client
        return {"auth": "oauth_user", "client_id": cid, "client_secret": secret, "refresh_token": refresh,
                "token_uri": self.token_uri, "api_endpoint": self.url, "sheets_retry_base_delay": 0.05, **over}

    def gmail_extra(self, **over) -> dict:
        """The email connection's extra for a Gmail backend pointed at this server."""
        cid, secret, refresh = self.client
        # No pacing unless a test asks for it: the fake has no quota unless one is set.
        return {"backend": "gmail", "auth": "oauth_user", "client_id": cid, "client_secret": secret,
                "refresh_token": refresh, "token_uri": self.token_uri, "api_endpoint": self.url,
                "units_per_minute": 0, "concurrency": 4, **over}

    def add_spreadsheet(self, key: str, sheets: dict[str, list[list]], title: str = "Book",
                        merges: dict[str, list[dict]] | None = None, modified: str = "2026-12-01T10:00:00.000Z",
                        rows: int = 1000, cols: int = 26) -> None:
        """A spreadsheet with worksheets {title: rows of cells}; cells are str, int, float or bool,
        a date cell is its serial number (as Sheets holds it)."""
        with self.lock:
            self.spreadsheets[key] = {"title": title, "modified": modified, "sheets": [
                {"sheetId": i * 7 + 1, "title": t, "rows": max(rows, len(v)), "cols": cols,
                 "values": [list(r) for r in v], "merges": (merges or {}).get(t, [])}
                for i, (t, v) in enumerate(sheets.items())]}

    def sheet_values(self, key: str, title: str) -> list[list]:
        """A worksheet's cells as Sheets would return them: trailing empty cells and rows dropped."""
        with self.lock:
            ws = next(w for w in self.spreadsheets[key]["sheets"] if w["title"] == title)
            return _trim(ws["values"])

    # --- behaviour -----------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06x}"

    def _over_quota(self, user: str, method: str) -> float | None:
        """Charge the call to the user's rolling minute; seconds to wait if it does not fit."""
        cost = COSTS.get(method)
        if cost is None:
            return None
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
        entry = {"raw": raw, "to": str(msg["To"] or ""), "from": str(msg["From"] or ""), "subject": str(msg["Subject"] or ""),
                 "text": text.get_content() if text else "", "user": user, "bcc": msg.get_all("Bcc"), "cc": str(msg["Cc"] or "")}
        return self._next_id("m"), entry

    @staticmethod
    def _matches(entry: dict, query: str) -> bool:
        """Gmail search, the part we use: ``in:sent`` and quoted phrases in the body text; for the
        inbox, ``after:<epoch seconds>`` and one ``{...}`` group of ``from:``/``to:`` terms, any of
        which must match (Gmail's braces mean OR)."""
        phrases = re.findall(r'"([^"]+)"', query)
        if not all(p.lower() in entry["text"].lower() for p in phrases):
            return False
        after = re.search(r"\bafter:(\d+)", query)
        if after and entry.get("received", 0) < int(after.group(1)):
            return False
        group = re.search(r"\{([^}]*)\}", query)
        if group:
            # A whole address matches that address only; a bare word (from:mailer-daemon) any
            # address containing it, as Gmail's search does.
            terms = [t.split(":", 1) for t in group.group(1).split() if ":" in t]
            return any(v.lower() in entry.get("addresses", {}).get(k, set()) if "@" in v
                       else v.lower() in entry.get({"from": "from", "to": "to"}.get(k, ""), "") for k, v in terms)
        return True

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
            # client's delayed ACK (40 ms a request; 2,000 mailbox reads took 90 s).
            disable_nagle_algorithm = True

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
                if fault == "echo":  # an error text that echoes the request's secrets back
                    _, secret, refresh = fake.client
                    self._error(400, f"Invalid request: client_secret={secret}&refresh_token={refresh}",
                                "invalidArgument")
                    return "answered"
                return fault

            def do_POST(self):  # noqa: N802
                path = urlparse(self.path).path
                body = self._body()
                if path == "/token":
                    return self._token(body)
                if path.startswith("/v4/spreadsheets/"):
                    return self._sheets("POST", path, {}, json.loads(body or b"{}"))
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
                        fake._added(mid, ("SENT",))
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
                if url.path.startswith(("/v4/spreadsheets/", "/drive/v3/files/")):
                    return self._sheets("GET", url.path, query, None)
                m = re.fullmatch(r"/gmail/v1/users/([^/]+)/(profile|history)", url.path)
                if m:
                    return self._mailbox(m.group(1), m.group(2), query, parse_qs(url.query))
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
                    q = query.get("q", "")
                    inbox = what == "messages" and ("in:inbox" in q or ident in fake.inbox)
                    store = fake.inbox if inbox else fake.sent if what == "messages" else fake.drafts
                    if ident:
                        if ident not in store:
                            return self._error(404, "Requested entity was not found.", "notFound")
                        e = store[ident]
                        if what == "drafts":
                            return self._reply(200, {"id": ident, "message": {"id": e["message_id"]}})
                        body = {"id": ident, "threadId": ident, "labelIds": ["INBOX" if inbox else "SENT"],
                                "snippet": e["text"][:100],
                                "internalDate": str(int(e.get("received", time.time()) * 1000))}
                        if query.get("format") == "raw":
                            body["raw"] = base64.urlsafe_b64encode(e["raw"]).decode("ascii")
                        elif query.get("format") == "metadata":
                            wanted = {h.lower() for h in parse_qs(url.query).get("metadataHeaders", [])}
                            msg = email.message_from_bytes(e["raw"], policy=email.policy.compat32)
                            body["payload"] = {"mimeType": msg.get_content_type(), "headers": [
                                {"name": k, "value": str(v)} for k, v in msg.items()
                                if not wanted or k.lower() in wanted]}
                        body["sizeEstimate"] = len(e["raw"])
                        return self._reply(200, body)
                    hits = [i for i, e in store.items() if fake._matches(e, q)]
                    if store is fake.inbox:  # Gmail lists the newest first
                        hits = [i for _, i in sorted(((store[i].get("received", 0), n), i) for n, i in enumerate(hits))][::-1]
                    limit = int(query.get("maxResults", 100))
                    start = int(query.get("pageToken") or 0)
                    key = "messages" if what == "messages" else "drafts"
                    items = [{"id": i, "threadId": i} if what == "messages" else {"id": i, "message": {"id": store[i]["message_id"]}}
                             for i in hits[start:start + limit]]
                    more = {"nextPageToken": str(start + limit)} if start + limit < len(hits) else {}
                    return self._reply(200, {key: items, "resultSizeEstimate": len(hits), **more} if items
                                       else {"resultSizeEstimate": 0})

            def _mailbox(self, user: str, what: str, query: dict, multi: dict):
                """users.getProfile and users.history.list, shaped as Gmail answers them."""
                if not self._authorised():
                    return
                method = "getProfile" if what == "profile" else "history.list"
                if self._pre_fault(method, user) == "answered":
                    return
                with fake.lock:
                    if what == "profile":
                        return self._reply(200, {"emailAddress": f"{user}@example.edu",
                                                 "messagesTotal": len(fake.inbox) + len(fake.sent),
                                                 "threadsTotal": len(fake.inbox) + len(fake.sent),
                                                 "historyId": str(fake.history_id)})
                    start = query.get("startHistoryId", "")
                    if not start.isdigit():
                        return self._error(400, "Invalid startHistoryId", "invalidArgument")
                    if not fake.history_floor <= int(start) <= fake.history_id:
                        # Expired (older than Gmail keeps) or never issued: the client must list afresh.
                        return self._error(404, "Requested entity was not found.", "notFound")
                    types = set(multi.get("historyTypes", []))
                    label = query.get("labelId")
                    records = [(h, mid, labels) for h, mid, labels in fake.history if h > int(start)
                               and (not label or label in labels) and (not types or "messageAdded" in types)]
                    limit = min(int(query.get("maxResults", 100)), 500)
                    offset = int(query.get("pageToken") or 0)
                    page = records[offset:offset + limit]
                    body = {"historyId": str(fake.history_id)}
                    if page:
                        body["history"] = [{"id": str(h), "messages": [{"id": mid, "threadId": mid}],
                                            "messagesAdded": [{"message": {"id": mid, "threadId": mid,
                                                                           "labelIds": list(labels)}}]}
                                           for h, mid, labels in page]
                    if offset + limit < len(records):
                        body["nextPageToken"] = str(offset + limit)
                    return self._reply(200, body)

            def _sheets(self, verb: str, path: str, query: dict, body: dict | None):
                if not self._authorised():
                    return
                path = unquote(path)
                m = re.fullmatch(r"/drive/v3/files/([^/]+)", path)
                if m:
                    method, key, rest = "drive.files.get", m.group(1), None
                else:
                    m = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(:batchUpdate|/values:batchClear|"
                                     r"/values:batchUpdate|/values/(.+))?", path)
                    if not m:
                        return self._error(404, f"no such endpoint {path}", "notFound")
                    key, rest = m.group(1), m.group(2) or ""
                    method = {"": "sheets.get", ":batchUpdate": "sheets.batchUpdate",
                              "/values:batchClear": "sheets.values.batchClear",
                              "/values:batchUpdate": "sheets.values.batchUpdate"}.get(rest, "sheets.values.get")
                if self._pre_fault(method) == "answered":
                    return
                with fake.lock:
                    book = fake.spreadsheets.get(key)
                    if key in fake.not_shared:
                        return self._reply(403, {"error": {"code": 403, "message": "The caller does not have "
                                                           "permission", "status": "PERMISSION_DENIED"}})
                    if book is None:
                        return self._reply(404, {"error": {"code": 404, "message": "Requested entity was not found.",
                                                           "status": "NOT_FOUND"}})
                    if method == "drive.files.get":
                        return self._reply(200, {"id": key, "name": book["title"], "createdTime": book["modified"],
                                                 "modifiedTime": book["modified"]})
                    if method == "sheets.get":
                        return self._reply(200, {"spreadsheetId": key, "properties": {
                            "title": book["title"], "locale": "en_AU", "timeZone": "Australia/Sydney"},
                            "sheets": [{"properties": _props(w, i), "merges": w["merges"]}
                                       for i, w in enumerate(book["sheets"])]})
                    if method == "sheets.values.get":
                        title, _ = _a1(m.group(3))
                        ws = _find(book, title)
                        if ws is None:
                            return self._error(400, f"Unable to parse range: {m.group(3)}", "badRequest")
                        values = _trim(ws["values"])
                        if query.get("valueRenderOption", "FORMATTED_VALUE") == "FORMATTED_VALUE":
                            values = [[_formatted(c) for c in row] for row in values]
                        return self._reply(200, {"range": f"'{title}'!A1", "majorDimension": "ROWS",
                                                 **({"values": values} if values else {})})
                    fake.sheet_writes.append(method)
                    fake.spreadsheets[key]["modified"] = dt.datetime.now(dt.timezone.utc).strftime(
                        "%Y-%m-%dT%H:%M:%S.000Z")
                    if method == "sheets.batchUpdate":
                        replies = []
                        for req in body.get("requests", []):
                            if "addSheet" in req:
                                props = req["addSheet"].get("properties", {})
                                if _find(book, props.get("title")) is not None:
                                    return self._error(400, f"A sheet with the name \"{props['title']}\" already "
                                                            "exists. Please enter another name.", "badRequest")
                                grid = props.get("gridProperties", {})
                                ws = {"sheetId": props.get("sheetId", next(fake._ids) * 11), "title": props["title"],
                                      "rows": grid.get("rowCount", 1000), "cols": grid.get("columnCount", 26),
                                      "values": [], "merges": []}
                                book["sheets"].append(ws)
                                replies.append({"addSheet": {"properties": _props(ws, len(book["sheets"]) - 1)}})
                            elif "updateSheetProperties" in req:
                                props = req["updateSheetProperties"]["properties"]
                                ws = next(w for w in book["sheets"] if w["sheetId"] == props["sheetId"])
                                grid = props.get("gridProperties", {})
                                ws["rows"] = grid.get("rowCount", ws["rows"])
                                ws["cols"] = grid.get("columnCount", ws["cols"])
                                ws["values"] = [r[: ws["cols"]] for r in ws["values"][: ws["rows"]]]
                                replies.append({})
                            elif "deleteSheet" in req:
                                book["sheets"] = [w for w in book["sheets"] if w["sheetId"] != req["deleteSheet"]["sheetId"]]
                                replies.append({})
                            else:
                                return self._error(400, f"unsupported request {list(req)}", "badRequest")
                        return self._reply(200, {"spreadsheetId": key, "replies": replies})
                    if method == "sheets.values.batchClear":
                        for rng in body.get("ranges", []):
                            title, _ = _a1(rng)
                            ws = _find(book, title)
                            if ws is None:
                                return self._error(400, f"Unable to parse range: {rng}", "badRequest")
                            ws["values"] = []
                        return self._reply(200, {"spreadsheetId": key, "clearedRanges": body.get("ranges", [])})
                    # values:batchUpdate: check every range first; Sheets applies all or nothing.
                    plans = []
                    for item in body.get("data", []):
                        title, (r0, c0) = _a1(item["range"])
                        ws = _find(book, title)
                        if ws is None:
                            return self._error(400, f"Unable to parse range: {item['range']}", "badRequest")
                        rows = item.get("values", [])
                        width = max((len(r) for r in rows), default=0)
                        if r0 + len(rows) > ws["rows"] or c0 + width > ws["cols"]:
                            return self._error(400, f"Range ({item['range']}) exceeds grid limits. Max rows: "
                                                    f"{ws['rows']}, max columns: {ws['cols']}", "badRequest")
                        plans.append((ws, r0, c0, rows))
                    cells = 0
                    for ws, r0, c0, rows in plans:
                        for i, row in enumerate(rows):
                            while len(ws["values"]) <= r0 + i:
                                ws["values"].append([])
                            target = ws["values"][r0 + i]
                            while len(target) < c0 + len(row):
                                target.append("")
                            target[c0: c0 + len(row)] = row
                            cells += len(row)
                    return self._reply(200, {"spreadsheetId": key, "totalUpdatedCells": cells})

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
                    with fake.lock:  # the scopes the user consented to on the consent screen
                        granted = fake.auth_requests[-1].get("scope", "") if fake.auth_requests else ""
                    return self._reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                                             "refresh_token": fake.client[2], "scope": granted})
                if grant == "refresh_token":
                    cid, secret, refresh = fake.client
                    if (form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != (cid, secret, refresh):
                        return self._reply(400, {"error": "invalid_grant", "error_description": "Bad credentials"})
                elif grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get("assertion"):
                    return self._reply(400, {"error": "unsupported_grant_type"})
                token = f"ya29.fake-{next(fake._ids)}"
                with fake.lock:
                    fake.tokens.add(token)
                # The scopes asked for (a refresh may name them), else those of the Gmail consent.
                scope = form.get("scope") or " ".join(["https://www.googleapis.com/auth/gmail.compose",
                                                       "https://www.googleapis.com/auth/gmail.readonly"])
                self._reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer", "scope": scope})

        return Handler


def _props(ws: dict, index: int) -> dict:
    return {"sheetId": ws["sheetId"], "title": ws["title"], "index": index, "sheetType": "GRID",
            "gridProperties": {"rowCount": ws["rows"], "columnCount": ws["cols"]}}


def _find(book: dict, title: str | None) -> dict | None:
    return next((w for w in book["sheets"] if w["title"] == title), None)


def _a1(rng: str) -> tuple[str, tuple[int, int]]:
    """A range like 'My sheet'!B3:D9 or Sheet1 -> (title, (row, column) of its first cell, 0-based)."""
    m = re.fullmatch(r"(?:'((?:[^']|'')*)'|([^!]+?))(?:!([A-Z]+)?(\d+)?(?::.*)?)?", rng)
    if not m:
        return rng, (0, 0)
    title = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    col = 0
    for ch in m.group(3) or "A":
        col = col * 26 + ord(ch) - 64
    return title, (int(m.group(4) or 1) - 1, col - 1)


def _trim(values: list[list]) -> list[list]:
    out = []
    for row in values:
        row = list(row)
        while row and row[-1] in ("", None):
            row.pop()
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out


def _formatted(cell):
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    return str(cell)
