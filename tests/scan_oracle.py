"""A strict reader of a built customer email (the email package, not the project's scan): what a
mail program would do with the bytes, compared with what the builder meant to send."""
from __future__ import annotations

import email
import email.policy
from email.utils import getaddresses

from onboarding.delivery.messages import HEADERS, MAX_LINE_BYTES, PART_HEADERS, header_text, parse_sender

ALLOWED = {h.lower() for h in HEADERS}
PART_ALLOWED = ALLOWED | {h.lower() for h in PART_HEADERS}


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _rfc2047_name_ok(raw: bytes, name: str, to: str, header: str = "To", cleaned: str | None = None) -> bool:
    """The email package's header parser keeps the folding space between two adjacent encoded
    words of a display name (RFC 2047 section 6.2 says a reader ignores it; mail programs do):
    read the To value as RFC 2047 says instead."""
    from email.header import decode_header, make_header

    value = email.message_from_bytes(raw, policy=email.policy.compat32)[header]
    shown = header_text(name) if cleaned is None else cleaned
    return str(make_header(decode_header(value))) == f"{shown} <{to}>"


def problems(raw: bytes, *, to: str, name: str, sender: str, subject: str | None = None,
             text: str | None = None, html: str | None = None) -> list[str]:
    """Every way the strict reading of ``raw`` differs from the intended message (empty: none)."""
    out: list[str] = []
    if not raw.isascii():
        out.append("8-bit bytes")
    lines = raw.split(b"\r\n")
    if max(map(len, lines)) > MAX_LINE_BYTES:
        out.append("line over 998")
    if raw.replace(b"\r\n", b"").count(b"\r") or raw.replace(b"\r\n", b"").count(b"\n"):
        out.append("bare CR or LF")
    # A whitespace-only line inside the header block ends the headers for some readers (RFC 5322
    # forbids it: obs-FWS); the email package reads it as a continuation.
    head = raw.partition(b"\r\n\r\n")[0]
    if any(line and not line.strip() for line in head.split(b"\r\n")):
        out.append("whitespace-only line among the headers")
    for policy_name, policy in (("strict", email.policy.strict), ("default", email.policy.default)):
        try:
            msg = email.message_from_bytes(raw, policy=policy)
            keys = [k.lower() for k in msg.keys()]
            if set(keys) - ALLOWED:
                out.append(f"{policy_name}: extra headers {sorted(set(keys) - ALLOWED)}")
            if len(keys) != len(set(keys)):
                out.append(f"{policy_name}: repeated headers {keys}")
            if msg.defects:
                out.append(f"{policy_name}: message defects {msg.defects}")
            tos = msg["To"].addresses
            if [a.addr_spec for a in tos] != [to]:
                out.append(f"{policy_name}: To reads {[a.addr_spec for a in tos]!r}, not [{to!r}]")
            elif tos[0].display_name != header_text(name) and not _rfc2047_name_ok(raw, name, to):
                out.append(f"{policy_name}: To name reads {tos[0].display_name!r}, not {header_text(name)!r}")
            if msg["To"].defects:
                out.append(f"{policy_name}: To defects {msg['To'].defects}")
            frm = msg["From"].addresses
            want_from = parse_sender(sender)
            if [a.addr_spec for a in frm] != [want_from.addr_spec]:
                out.append(f"{policy_name}: From reads {[a.addr_spec for a in frm]!r}, not {want_from.addr_spec!r}")
            elif frm[0].display_name != want_from.display_name and not _rfc2047_name_ok(
                    raw, "", want_from.addr_spec, "From", want_from.display_name):
                out.append(f"{policy_name}: From name reads {frm[0].display_name!r}, not {want_from.display_name!r}")
            for h in ("Cc", "Bcc", "Reply-To", "Sender"):
                if msg[h] is not None:
                    out.append(f"{policy_name}: has {h}")
            if subject is not None and str(msg["Subject"]) != header_text(subject, 250):
                out.append(f"{policy_name}: Subject reads {str(msg['Subject'])!r}, not {header_text(subject, 250)!r}")
            if msg.get_content_type() != "multipart/alternative":
                out.append(f"{policy_name}: content type {msg.get_content_type()}")
            parts = list(msg.iter_parts())
            if [p.get_content_type() for p in parts] != ["text/plain", "text/html"]:
                out.append(f"{policy_name}: parts {[p.get_content_type() for p in parts]}")
            else:
                for part, want in zip(parts, (text, html)):
                    pkeys = [k.lower() for k in part.keys()]
                    if set(pkeys) - PART_ALLOWED or len(pkeys) != len(set(pkeys)):
                        out.append(f"{policy_name}: part headers {pkeys}")
                    if part.defects:
                        out.append(f"{policy_name}: part defects {part.defects}")
                    if want is not None and _norm(part.get_content()) != _norm(want):
                        out.append(f"{policy_name}: {part.get_content_type()} body differs: "
                                   f"{part.get_content()!r:.200} vs {want!r:.200}")
            if msg.epilogue not in (None, ""):
                out.append(f"{policy_name}: epilogue {msg.epilogue!r:.100}")
        except Exception as exc:  # noqa: BLE001 - any failure to read is a finding
            out.append(f"{policy_name}: {type(exc).__name__}: {exc}")
    # compat32 (what older tools and many scripts use): getaddresses on the raw To value.
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    pairs = getaddresses(msg.get_all("To", []))
    if [p[1] for p in pairs] != [to]:
        out.append(f"compat32: To reads {pairs!r}")
    return out
