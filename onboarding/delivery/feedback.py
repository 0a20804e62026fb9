"""What comes back to the sender's mailbox after sending: delivery-status notifications (bounces,
RFC 3464 ``multipart/report; report-type=delivery-status``) and unsubscribe mails (to the
sender's ``+unsubscribe`` address). ``screen`` judges a message by its headers (is it worth
reading?), ``read`` turns one raw message into a ``Feedback``, ``effect`` decides what the
pipeline does about it, given the ledger entry it answers.

Rules (anyone can mail the sender; only what this deployment issued can make anything happen):
- a bounce is read only from a mail system's sender (``mail_system_senders``); from anyone else
  it is ignored, however it looks;
- a bounce is tied to the email it answers only by the reference in the **attached original**
  (its ``X-Onboarding-Ref`` header, or the original's text, in the ``message/rfc822`` or
  ``text/rfc822-headers`` part), never by text in the report's human-readable part, which the
  report's author writes; the reference must be one this deployment issued (in the ledger) and
  the failed recipient must be the one that email went to, otherwise the report is ignored;
- ``Status: 5.1.x`` (no such address or domain) and ``5.2.1`` (mailbox disabled) are **hard**: the
  address is suppressed for good. Every other failure (4.x.x, a full mailbox, a policy refusal)
  is **soft**: the email is sent again once, the next night. ``Action: delayed`` reports are not
  failures (the provider still tries) and change nothing;
- an unsubscribe mail stops marketing emails of one cohort to its sender's address: the
  reference in it (the ``mailto:`` link puts it in the subject) must name an email of that cohort
  sent to that address. Without a reference it does nothing (a ``From:`` is easily forged): it
  is counted in the summary for the instructor to handle by hand;
- everything else is junk: counted, with why, never acted on.
"""
from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Any, Iterable, Mapping

from onboarding.addresses import normalised
from onboarding.delivery.messages import REF_HEADER

# No word boundary before it: a mail program that leaves a mailto subject's "%20" undecoded writes
# "unsubscribe%20onb-..." (a reference counts only if it was issued to the sender anyway).
REF = re.compile(r"onb-[0-9a-f]{20}\b")
MAX_RAW_BYTES = 10 * 1024 * 1024  # a report larger than this is not read
DAEMONS = ("mailer-daemon", "postmaster")
# Gmail's (and Google Workspace's) Mail Delivery Subsystem: the From of every bounce Gmail writes.
GMAIL_DAEMON = "mailer-daemon@googlemail.com"
# The headers ``screen`` needs (fetched as metadata before anything else).
SCREEN_HEADERS = ("From", "To", "Delivered-To", "Content-Type")

# Why a message is ignored: fixed phrases, so the summary can group and count them.
JUNK = "neither a bounce from a mail system nor a mail to the unsubscribe address"
TOO_LARGE = f"a message larger than {MAX_RAW_BYTES // (1024 * 1024)} MB"
NOT_A_MAIL_SYSTEM = "a delivery-status report from a sender that is not a mail system"
NO_ORIGINAL_REF = "a bounce with no reference in the attached original message"
NOT_ISSUED = "a bounce naming no email this deployment sent"
WRONG_RECIPIENT = "a bounce whose failed recipient is not the one the email went to"
ALREADY_BOUNCED = "a bounce of an email already recorded as bounced ({bounce}): counted once"
UNSUB_NO_REF = "an unsubscribe mail without a reference (the instructor handles it by hand)"
UNSUB_NOT_ISSUED = "an unsubscribe mail naming no email this deployment sent"
UNSUB_OTHER = "an unsubscribe mail from another address than the email it names went to"


def mail_system_senders(sender_domains: Iterable[str]) -> frozenset[str]:
    """Who may send this deployment a bounce: Gmail's ``mailer-daemon@googlemail.com`` (every
    account sends through Gmail, so every bounce of ours is written by it) and each sending
    domain's own ``mailer-daemon@`` and ``postmaster@`` (a domain whose own servers relay or
    reject mail reports from there). Not "any mailer-daemon": ``mailer-daemon@attacker.example``
    is anyone's to own. A From can still be forged; this narrows what is read, and the reference
    from the attached original (issued by us, for that recipient) is what makes a bounce act."""
    return frozenset({GMAIL_DAEMON} | {f"{d}@{domain.strip().lower()}" for domain in sender_domains
                                       if domain and domain.strip() for d in DAEMONS})


def screen(headers: Mapping[str, str], unsubscribe_addresses: set[str], mail_systems: frozenset[str],
           size: int = 0) -> str | None:
    """Whether a message is worth reading, from its headers alone: None to read it, or why it is
    ignored (junk, a report from a sender that is not a mail system, too large)."""
    h = {k.lower(): v for k, v in headers.items()}
    sender = normalised(parseaddr(h.get("from", ""))[1])
    to = {normalised(a) for _, a in getaddresses([h.get("to", ""), h.get("delivered-to", "")])}
    if size > MAX_RAW_BYTES:
        return TOO_LARGE
    if sender in mail_systems or to & {a.lower() for a in unsubscribe_addresses}:
        return None
    if "multipart/report" in h.get("content-type", "").lower() or sender.split("@")[0] in DAEMONS:
        return NOT_A_MAIL_SYSTEM
    return JUNK


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


def read(raw: bytes, unsubscribe_addresses: set[str], mail_systems: frozenset[str] = frozenset({GMAIL_DAEMON})) -> Feedback:
    """One message from the sender's mailbox, as the pipeline understands it. Never raises: a
    message it cannot read is ``ignored`` with the reason."""
    if len(raw) > MAX_RAW_BYTES:
        return Feedback("ignored", detail=TOO_LARGE)
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        sender = normalised(parseaddr(str(msg.get("From", "")))[1])
        report = _report(msg)
        if report is not None:
            if sender not in mail_systems:
                return Feedback("ignored", detail=NOT_A_MAIL_SYSTEM)
            return _bounce(msg, report)
        to = {a.lower() for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Delivered-To", []))}
        if to & {a.lower() for a in unsubscribe_addresses}:
            if not sender or "@" not in sender or any(c.isspace() or c in "<>,;\"" for c in sender):
                return Feedback("ignored", detail="an unsubscribe mail without a readable From address")
            refs = tuple(dict.fromkeys(REF.findall(_header(msg, "Subject")) + REF.findall(_text(msg)[:20000])))
            return Feedback("unsubscribe", sender, refs, detail=_header(msg, "Subject")[:200])
        return Feedback("ignored", detail=JUNK)
    except Exception as exc:  # noqa: BLE001 - a hostile message is ignored, never a crash
        return Feedback("ignored", detail=f"unreadable message: {type(exc).__name__}")


def classify(status_code: str | None) -> str:
    """hard (the address will never work) or soft (it may work later), from a DSN Status."""
    code = (status_code or "").strip()
    return "hard" if code.startswith("5.1.") or code == "5.2.1" else "soft"


def effect(fb: Feedback, entry: dict[str, Any] | None) -> Effect:
    """What to do about one piece of feedback, given the ledger entry its reference names (``None``:
    it names none this deployment issued)."""
    if fb.kind == "ignored":
        return Effect("ignored", None, None, "none", fb.detail)
    if fb.kind == "bounce":
        if entry is None:
            return Effect("ignored", None, None, "none", NOT_ISSUED if fb.refs else NO_ORIGINAL_REF)
        if (fb.address or "").lower() != str(entry["recipient"]).lower():
            return Effect("ignored", None, None, "none", WRONG_RECIPIENT)
        if entry.get("status") == "bounced" and (entry.get("bounce") == "hard" or fb.bounce != "hard"):
            # Mail systems send a report again, and anyone holding one can replay it: an email
            # bounces once (a soft one may still turn out hard), so the summary counts it once,
            # promises no second retry, and a hard bounce is never made soft again.
            return Effect("ignored", None, None, "none", ALREADY_BOUNCED.format(bounce=entry.get("bounce")))
        # A soft bounce is sent again once: not when the email that came back was that second try.
        action = "suppress" if fb.bounce == "hard" else "none" if entry.get("retry") else "retry"
        return Effect("bounce", entry["email_key"], entry["cohort_id"], action, fb.detail)
    if entry is None:
        return Effect("ignored", None, None, "none", UNSUB_NOT_ISSUED if fb.refs else UNSUB_NO_REF)
    if str(entry["recipient"]).lower() != (fb.address or ""):
        return Effect("ignored", None, None, "none", UNSUB_OTHER)
    return Effect("unsubscribe", entry["email_key"], entry["cohort_id"], "unsubscribe", fb.detail)


def answered(fb: Feedback, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of the ledger entries the references name (most trusted first), the one this feedback is
    about: the first sent to its address, else the first (which ``effect`` then refuses)."""
    mine = [e for e in entries if str(e["recipient"]).lower() == (fb.address or "").lower()]
    return (mine or entries or [None])[0]


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
        # RFC 3464's other actions by name; anything else as "other" (the reason stays a fixed phrase).
        actions = ", ".join(sorted({a if a in ("delayed", "delivered", "relayed", "expanded") else "other"
                                    for a in ((b.get("Action") or "").strip().lower() for b in recipients)})) or "none"
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
            # Only the original's own header and text: the report's human part is the author's.
            refs += REF.findall(_header(original, REF_HEADER))
            refs += REF.findall(_text(original)[:200000])
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
    address = normalised(parseaddr(text.strip())[1])
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
