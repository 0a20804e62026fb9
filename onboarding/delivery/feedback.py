"""What comes back to the sender's mailbox after sending: delivery-status notifications (bounces,
RFC 3464 ``multipart/report; report-type=delivery-status``) and unsubscribe mails (to the
sender's ``+unsubscribe`` address). ``read`` turns one raw message into a ``Feedback``; ``effect``
decides what the pipeline does about it, given the ledger entry it answers.

Rules:
- a bounce is tied to the email it answers by the reference the email carries (its
  ``X-Onboarding-Ref`` header, or the reference in its text, which the report quotes); the
  failed recipient must be the one that email went to, otherwise the report is ignored (anyone
  can mail a forged report to the sender);
- ``Status: 5.1.x`` (no such address or domain) and ``5.2.1`` (mailbox disabled) are **hard**: the
  address is suppressed for good. Every other failure (4.x.x, a full mailbox, a policy refusal)
  is **soft**: the email is sent again once, the next night. ``Action: delayed`` reports are not
  failures (the provider still tries) and change nothing;
- an unsubscribe mail stops marketing emails to its sender's address: the reference in its
  subject (the ``mailto:`` link carries it) must name an email sent to that address, or, without
  one, the address must be someone we emailed.
"""
from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Any

from onboarding.delivery.messages import REF_HEADER

REF = re.compile(r"\bonb-[0-9a-f]{20}\b")
MAX_RAW_BYTES = 10 * 1024 * 1024  # a report larger than this is not read
DAEMONS = ("mailer-daemon", "postmaster")


@dataclass(frozen=True)
class Feedback:
    kind: str  # bounce | unsubscribe | ignored
    address: str | None = None  # the failed recipient, or who asked to unsubscribe
    refs: tuple[str, ...] = ()  # references found, most trusted first
    bounce: str | None = None  # hard | soft
    status_code: str | None = None
    detail: str = ""  # the provider's reason, or why the message is ignored


@dataclass(frozen=True)
class Effect:
    kind: str  # bounce | unsubscribe | ignored
    email_key: str | None
    cohort_id: str | None
    action: str  # suppress | retry | unsubscribe | none
    detail: str


def read(raw: bytes, unsubscribe_addresses: set[str]) -> Feedback:
    """One message from the sender's mailbox, as the pipeline understands it. Never raises: a
    message it cannot read is ``ignored`` with the reason."""
    if len(raw) > MAX_RAW_BYTES:
        return Feedback("ignored", detail=f"message of {len(raw)} bytes, larger than {MAX_RAW_BYTES}")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        report = _report(msg)
        if report is not None:
            return _bounce(msg, report)
        to = {a.lower() for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Delivered-To", []))}
        if to & {a.lower() for a in unsubscribe_addresses}:
            sender = parseaddr(str(msg.get("From", "")))[1].strip().lower()
            if not sender or "@" not in sender or any(c.isspace() or c in "<>,;\"" for c in sender):
                return Feedback("ignored", detail="an unsubscribe mail without a readable From address")
            refs = tuple(dict.fromkeys(REF.findall(_header(msg, "Subject")) + REF.findall(_text(msg)[:20000])))
            return Feedback("unsubscribe", sender, refs, detail=_header(msg, "Subject")[:200])
        return Feedback("ignored", detail="neither a delivery-status report nor an unsubscribe mail")
    except Exception as exc:  # noqa: BLE001 - a hostile message is ignored, never a crash
        return Feedback("ignored", detail=f"unreadable message: {type(exc).__name__}")


def classify(status_code: str | None) -> str:
    """hard (the address will never work) or soft (it may work later), from a DSN Status."""
    code = (status_code or "").strip()
    return "hard" if code.startswith("5.1.") or code == "5.2.1" else "soft"


def effect(fb: Feedback, entry: dict[str, Any] | None, known_recipient: bool = False) -> Effect:
    """What to do about one piece of feedback, given the ledger entry its reference names (or
    ``None``) and, for an unsubscribe without a reference, whether we ever emailed its sender."""
    if fb.kind == "ignored":
        return Effect("ignored", None, None, "none", fb.detail)
    if fb.kind == "bounce":
        if entry is None:
            return Effect("ignored", None, None, "none", "a bounce for no email in the ledger")
        if (fb.address or "").lower() != str(entry["recipient"]).lower():
            return Effect("ignored", None, None, "none",
                          "a bounce whose failed recipient is not the one the email went to")
        action = "suppress" if fb.bounce == "hard" else "retry"
        return Effect("bounce", entry["email_key"], entry["cohort_id"], action, fb.detail)
    if entry is not None and str(entry["recipient"]).lower() != (fb.address or ""):
        return Effect("ignored", None, None, "none",
                      "an unsubscribe mail from another address than the email it names went to")
    if entry is None and not known_recipient:
        return Effect("ignored", None, None, "none", "an unsubscribe mail from an address we never emailed")
    return Effect("unsubscribe", entry["email_key"] if entry else None, entry["cohort_id"] if entry else None,
                  "unsubscribe", fb.detail)


# --- parsing -------------------------------------------------------------------------------------
def _report(msg: Message) -> Message | None:
    """The ``message/delivery-status`` part of a DSN, if the message is one."""
    if msg.get_content_type() != "multipart/report":
        return None
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            return part
    return None


def _bounce(msg: Message, report: Message) -> Feedback:
    recipients = _recipient_blocks(report)
    failed = [b for b in recipients if (b.get("Action") or "").strip().lower() == "failed"]
    if not failed:
        actions = ", ".join(sorted({(b.get("Action") or "?").strip().lower() for b in recipients})) or "none"
        return Feedback("ignored", detail=f"a delivery-status report with no failure (action: {actions})")
    block = failed[0]
    address = _address_field(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
    code = (block.get("Status") or "").strip()[:20]
    diagnostic = " ".join(str(block.get("Diagnostic-Code") or "").split())
    diagnostic = diagnostic.split(";", 1)[1].strip() if ";" in diagnostic[:12] else diagnostic
    refs: list[str] = []
    for part in msg.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            original = part.get_payload(0) if part.is_multipart() else email.message_from_string(
                part.get_payload(decode=True).decode("utf-8", "replace") if part.get_payload(decode=True)
                else str(part.get_payload()), policy=email.policy.compat32)
            refs += REF.findall(_header(original, REF_HEADER))
    refs += REF.findall(_text(msg)[:200000])
    reason = (diagnostic or "no reason given")[:500]
    return Feedback("bounce", address, tuple(dict.fromkeys(refs)), classify(code), code or None,
                    f"{code} {reason}".strip() if code else reason)


def _recipient_blocks(report: Message) -> list[Message]:
    """The per-recipient field blocks of a delivery-status part (the first block is per message)."""
    payload = report.get_payload()
    if isinstance(payload, list):
        blocks = [b for b in payload if isinstance(b, Message)]
    else:
        text = payload if isinstance(payload, str) else ""
        blocks = [email.message_from_string(chunk.strip() + "\n", policy=email.policy.compat32)
                  for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]
    return [b for b in blocks if b.get("Final-Recipient") or b.get("Original-Recipient") or b.get("Action")]


def _address_field(value: str) -> str | None:
    """``rfc822; someone@example.org`` -> the address, lower case."""
    text = " ".join(str(value).split())
    text = text.split(";", 1)[1] if ";" in text else text
    address = parseaddr(text.strip())[1].strip().lower()
    return address if "@" in address and not any(c.isspace() for c in address) else None


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _text(msg: Message) -> str:
    """The message's readable text (every text part, decoded), for the reference it quotes."""
    out = []
    for part in msg.walk():
        if part.get_content_maintype() == "text" or part.get_content_type() == "message/rfc822":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                out.append(data.decode(part.get_content_charset() or "utf-8", "replace"))
    if not msg.is_multipart() and not out:
        out.append(str(msg.get_payload()))
    return "\n".join(out)
