"""Google credentials and the Gmail and Sheets clients, from a connection's settings (its ``extra``).

One set of keys serves Gmail and Sheets, so the instructor's OAuth user (or one service account)
can do both:

- ``auth: oauth_user`` with ``client_id``, ``client_secret``, ``refresh_token`` (from
  ``python -m onboarding.gmail_auth``; add ``--sheets`` to grant the Sheets scopes too);
- ``auth: service_account`` with ``keyfile_dict`` and, for Gmail, ``subject`` (the Workspace user
  to act as, by domain-wide delegation). For Sheets, ``subject`` is optional: without it the
  service account acts as itself, and the spreadsheet must be shared with its email address.

``token_uri`` and ``api_endpoint`` point the clients at another server (the tests' fake Google;
a corporate proxy). Nothing here logs a key, a token or a secret.
"""
from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

SHEETS_READ_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",  # a sheet's last-modified time (freshness guard)
)
SHEETS_WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
GMAIL_SCOPES = (
    "https://www.googleapis.com/auth/gmail.compose",  # drafts.create, drafts.send
    "https://www.googleapis.com/auth/gmail.readonly",  # messages.list / drafts.list search on recovery
)
# The hosts gspread calls; ``api_endpoint`` replaces both.
_GOOGLE_HOSTS = ("https://sheets.googleapis.com/", "https://www.googleapis.com/")


def credentials(extra: dict, scopes: tuple[str, ...], what: str, subject_required: bool = False):
    """google-auth credentials for an OAuth user or a service account."""
    auth = extra.get("auth", "oauth_user")
    if auth == "oauth_user":
        from google.oauth2.credentials import Credentials

        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not extra.get(k)]
        if missing:
            raise ValueError(f"{what} connection (oauth_user) is missing {missing}")
        return Credentials(None, refresh_token=extra["refresh_token"], client_id=extra["client_id"],
                           client_secret=extra["client_secret"],
                           token_uri=extra.get("token_uri", "https://oauth2.googleapis.com/token"),
                           scopes=list(scopes))
    if auth == "service_account":
        from google.oauth2 import service_account

        info = extra.get("keyfile_dict")
        if isinstance(info, str):  # the key file's JSON, as an environment variable holds it
            import json

            try:
                info = json.loads(info)
            except ValueError:
                raise ValueError(f"{what} connection (service_account): keyfile_dict is not JSON") from None
        if not info or (subject_required and not extra.get("subject")):
            raise ValueError(f"{what} connection (service_account) needs keyfile_dict"
                             + (" and subject" if subject_required else ""))
        if "token_uri" in extra:
            info = {**info, "token_uri": extra["token_uri"]}
        return service_account.Credentials.from_service_account_info(
            info, scopes=list(scopes), subject=extra.get("subject") or None)
    raise ValueError(f"{what} connection: unknown auth {auth!r} (oauth_user or service_account)")


def gmail_service(extra: dict, timeout: float = 30.0):
    """A Gmail client from a connection's settings: an OAuth user (client id, secret, refresh
    token) or a service account with domain-wide delegation (key and the user to act as).
    ``token_uri`` and ``api_endpoint`` may point it at another server (the tests' fake Google)."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    creds = credentials(extra, GMAIL_SCOPES, "Gmail", subject_required=True)
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=timeout))
    options = {"api_endpoint": extra["api_endpoint"]} if extra.get("api_endpoint") else None
    return build("gmail", "v1", http=http, client_options=options, static_discovery=True,
                 cache_discovery=False)


def sheets_client(extra: dict, scopes: tuple[str, ...] = SHEETS_READ_SCOPES, timeout: float = 30.0):
    """A gspread client. Requests refused with 429, 408 or 5xx (or Drive's 403 usageLimits) are
    retried with backoff, up to ``sheets_attempts`` (default 6) tries, never waiting more than
    ``sheets_max_wait`` seconds (default 64) at a time; then the error is raised."""
    import gspread
    from google.auth.transport.requests import AuthorizedSession
    from gspread.exceptions import APIError

    from onboarding.backoff import RetryPolicy, retry_after_seconds

    creds = credentials(extra, scopes, "Google Sheets")
    endpoint = (extra.get("api_endpoint") or "").rstrip("/")
    # The same backoff as Gmail's: Retry-After when given, else exponential with full jitter.
    policy = RetryPolicy(attempts=int(extra.get("sheets_attempts", 6)),
                         base_delay=float(extra.get("sheets_retry_base_delay", 1.0)),
                         max_delay=float(extra.get("sheets_max_wait", 64)))

    class Session(AuthorizedSession):
        def request(self, method, url, *args, **kwargs):
            if endpoint:
                for host in _GOOGLE_HOSTS:
                    if url.startswith(host):
                        url = endpoint + "/" + url[len(host):]
                        break
            return super().request(method, url, *args, **kwargs)

    class RetryingHTTPClient(gspread.http_client.HTTPClient):
        retries = 0  # how many requests were retried, for the logs

        def request(self, *args: Any, **kwargs: Any):
            for attempt in range(policy.attempts):
                try:
                    return super().request(*args, **kwargs)
                except APIError as exc:
                    code = exc.response.status_code
                    usage = code == 403 and "usageLimits" in exc.response.text
                    if not (code in (408, 429) or code >= 500 or usage) or attempt == policy.attempts - 1:
                        raise
                    wait = policy.delay(attempt, retry_after_seconds(exc.response.headers.get("Retry-After"),
                                                                     exc.response.text))
                    RetryingHTTPClient.retries += 1
                    log.warning("Google Sheets answered %s; retry %d of %d in %.1f s", code, attempt + 1,
                                policy.attempts - 1, wait)
                    time.sleep(wait)
            raise AssertionError("unreachable")

    client = gspread.Client(None, session=Session(creds), http_client=RetryingHTTPClient)
    client.http_client.auth = creds  # gspread reads .auth for expiry; the session refreshes the token itself
    client.set_timeout(timeout)
    return client


def spreadsheet_key(value: str) -> str:
    """A spreadsheet id from an id or any URL of the spreadsheet."""
    import re

    m = re.search(r"/spreadsheets/d/([a-zA-Z0-9_-]+)", value)
    if m:
        return m.group(1)
    if re.fullmatch(r"[a-zA-Z0-9_-]{10,}", value.strip()):
        return value.strip()
    raise ValueError(f"{value!r} is neither a spreadsheet id nor a Google Sheets URL")
