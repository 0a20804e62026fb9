"""Secrets never reach what the pipeline stores or reports, and an erasure's reason names nobody.

An error text from an API can echo the request that caused it: a client secret, a refresh token,
an access token, a private key. Every error text the pipeline stores (the ledger, its events, the
run records) or reports (summaries, CSV files, alerts) passes through ``redact`` first, which
removes the secrets it knows (those of the connections this process has read, registered by
``onboarding.resources``) and anything shaped like one.
"""
from __future__ import annotations

import re
import threading

from onboarding.addresses import ANY_ADDRESS

MASK = "[REDACTED]"
_PATTERNS = (
    # key=value, key: value or "key": "value", for the names secrets go by (a whole word, maybe with
    # a prefix such as db_password; not a file's name at the end of a path, as in "/etc/passwd: No
    # such file", whose next word is no secret)
    (re.compile(r"""(?i)(?<![\w/\\.\-])(["']?[\w\-]*?(?:client_secret|refresh_token|access_token|id_token|private_key|password|passwd|"""
                r"""secret|assertion|api_key|apikey|token)["']?\s*[:=]\s*["']?)[^"'&\s,;}]+"""), r"\1" + MASK),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1" + MASK),
    (re.compile(r"ya29\.[0-9A-Za-z_\-.]+"), MASK),  # a Google access token
    (re.compile(r"1//[0-9A-Za-z_\-]{20,}"), MASK),  # a Google refresh token
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), MASK),
    (re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), MASK),  # a JWT
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+(@)"), r"\1" + MASK + r"\2"),  # a password in a URL
)
# Text each of _PATTERNS needs somewhere in its match (in lower case): a text holding none of them
# matches none of the patterns.
_TRIGGERS = ("secret", "token", "key", "pass", "assertion", "bearer", "ya29.", "1//", "-----begin", "eyj", "://")
_known: set[str] = set()
_lock = threading.Lock()


def register(*values: object) -> None:
    """Remember secret values (a connection's password, client secret, refresh token, key) so that
    they are masked wherever they turn up."""
    with _lock:
        for v in values:
            if isinstance(v, str) and len(v) >= 6:
                _known.add(v)


def redact(text: str | None) -> str | None:
    """``text`` with every secret masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    lower = text.lower()
    if any(t in lower for t in _TRIGGERS):  # most texts (draft ids, owners) have none: no regex pass
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
    return text


# --- people -----------------------------------------------------------------------------------------
ADDRESS_MASK, NAME_MASK = "[address]", "[name]"


def without_people(text: str | None, names: tuple[str, ...] | list[str] = ()) -> str | None:
    """``text`` naming nobody: every address-shaped word, and each of ``names`` (whole, and each
    of its parts of two letters or more, as whole words, in any case) replaced by a placeholder.
    What an erasure keeps of its reason ("request from [name] <[address]>")."""
    if not text:
        return text
    text = ANY_ADDRESS.sub(ADDRESS_MASK, text)
    words = set()
    for name in names:
        parts = [p for p in re.split(r"[\s\-]+", name or "") if p]
        if parts:
            words.add(r"[\s\-]+".join(map(re.escape, parts)))
            words.update(re.escape(p) for p in parts if len(p) >= 2)
    for word in sorted(words, key=len, reverse=True):  # the whole name before its parts
        text = re.sub(rf"(?<!\w){word}(?!\w)", NAME_MASK, text, flags=re.IGNORECASE)
    return text


def _scrubbed(value: object, depth: int = 0) -> object:
    if depth > 8:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return (redact(value.decode("utf-8", "replace")) or "").encode("utf-8")
    if isinstance(value, dict):
        return {k: _scrubbed(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrubbed(v, depth + 1) for v in value)
    return value


def scrub_exception(exc: BaseException) -> BaseException:
    """``exc`` (and what caused it) with every secret masked in its arguments and text attributes,
    in place: a traceback printed later, by whoever logs it, carries none. (google-auth's
    RefreshError carries the token endpoint's answer, which may echo the client secret and
    refresh token; an API error its response body.)"""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        try:
            e.args = tuple(_scrubbed(a) for a in e.args)
        except (AttributeError, TypeError):  # an exception type that will not take new args
            pass
        for name, value in list(getattr(e, "__dict__", {}).items()):
            if isinstance(value, (str, bytes, dict, list, tuple)):
                try:
                    setattr(e, name, _scrubbed(value))
                except (AttributeError, TypeError):
                    pass
        todo += [e.__cause__, e.__context__]
    return exc
