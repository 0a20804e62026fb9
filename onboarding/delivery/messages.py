"""Rendering and building emails.

Templates live in ``include/templates/<name>/``: ``subject.txt``, ``body.txt`` and ``body.html``
(a customer email's: its journey's, ``journeys/<journey>/<stage>/<kind>/``, or its role's default,
``journey/<role>/``; in the customer's language when it has that variant, ``<lang>/``: see
``onboarding.templates``; Jinja2; the HTML autoescaped, so a name like ``<b>Eve</b>`` shows as typed). A
customer's email is written directly as bytes (``Built``): every header value is cleaned to one
line and stripped of anything that would read as an encoded word, names are atoms, one quoted
string or RFC 2047 encoded words, the two parts quoted-printable; the From and Subject lines are
made once per sender and subject, not per customer. The instructor's summary and alerts (copies,
charts, attachments) are built with the standard library's ``EmailMessage``.

Then every built message's bytes are scanned as a mail program reads them (``check_message``,
no parse with the email package): it must have exactly the recipients it was built for, no header
the code did not set, 7-bit CRLF lines and none longer than SMTP allows (998 bytes). A message
that fails is never sent (``UnsafeMessage``).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.policy
import functools
import random
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any

from onboarding.cohorts import Cohort
from onboarding.decisions import journey_of
from onboarding.errors import UnsafeMessage
from onboarding.languages import DEFAULT as DEFAULT_LANGUAGE, day_month_year, long_datetime
from onboarding.templates import (Rendered, Titled, _env, choose_template, journey_titles, render_in,
                                  stage_role, stage_template)
from onboarding.times import sent_clock
from onboarding.validation.values import MAX_NAME_CHARS, clean_name

REF_HEADER = "X-Onboarding-Ref"
# The headers this module sets; a built message with any other is refused.
HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", REF_HEADER, "MIME-Version", "Content-Type",
           "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post")
# The headers a part (an inline chart, an attached CSV) may carry besides those.
PART_HEADERS = ("Content-ID", "Content-Disposition")
MAX_LINE_BYTES = 998  # RFC 5322 section 2.1.1


def render(kind: str, **context: Any) -> Rendered:
    return render_in(_env(), kind, context)


@functools.lru_cache(maxsize=256)
def parse_sender(value: str) -> Address:
    """'Course Team <team@example.edu>' or a bare address, as a header-safe Address (once per
    sender: every email of a cohort asks)."""
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise ValueError(f"sender {value!r} is not one email address")
    name, addr = pairs[0]
    user, domain = addr.rsplit("@", 1)
    return Address(display_name=header_text(name), username=user, domain=domain)


def header_text(value: str, limit: int = MAX_NAME_CHARS) -> str:
    """A value for a header: one line, no encoded word (``=?`` would be decoded by the reader into
    other text), at most ``limit`` characters."""
    text = clean_name(value).replace("=?", "= ?")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Unsubscribe:
    """How a marketing email's recipient unsubscribes: a mail to ``mailto`` (the sender's own
    mailbox), and a one-click ``url`` when the deployment has one (RFC 8058)."""

    mailto: str
    url: str | None = None

    def header(self, ref: str) -> str:
        link = f"<mailto:{self.mailto}?subject=unsubscribe%20{ref}>"
        return f"{link}, <{self.url}>" if self.url else link


class Built:
    """A customer email as built: its header lines and body, ready to go as bytes. ``msg[name]``
    gives a header's value as set (None if absent); ``msg[name] = value`` adds one more header line
    (as ``EmailMessage`` does), which ``check_message`` then refuses."""

    def __init__(self, values: dict[str, str], head: list[bytes], body: bytes):
        self._values, self._head, self._body = values, head, body
        self._raw: bytes | None = None

    def __bytes__(self) -> bytes:
        if self._raw is None:
            self._raw = b"".join(self._head) + b"\r\n" + self._body
        return self._raw

    as_bytes = __bytes__

    def __getitem__(self, name: str) -> str | None:
        return next((v for k, v in self._values.items() if k.lower() == name.lower()), None)

    def __setitem__(self, name: str, value: str) -> None:
        self._head.append(f"{name}: {value}\r\n".encode("utf-8"))
        self._values.setdefault(name, value)
        self._raw = None

    def keys(self) -> list[str]:
        lines = b"".join(self._head).split(b"\r\n")
        return [line.split(b":", 1)[0].decode("ascii", "replace") for line in lines if line and line[:1] not in b" \t"]


Message = EmailMessage | Built

_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/^_`{|}~-]+)*")
_PRINTABLE = re.compile(r"[ -~]*")
_WORD_BYTES = 45  # base64 of 45 bytes is 60 characters: an encoded word within RFC 2047's 75


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), none longer than 75 characters and
    none splitting a character."""
    words, chunk = [], b""
    for ch in text:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += b
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words if w]


def _fold(name: str, words: list[str]) -> bytes:
    """A header line of ``words`` separated by spaces, folded before a word that would take the
    line past 78 characters (folding only adds a line break before a space; reading removes it)."""
    lines, line = [], f"{name}:"
    for w in words:
        if len(line) + 1 + len(w) > 78 and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + w
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _phrase(text: str) -> list[str]:
    """A display name as header words: atoms as they are, other printable ASCII as one quoted
    string, anything else as encoded words. ``text`` is already one line without ``=?``."""
    if _ATOMS.fullmatch(text):
        return text.split(" ")
    if _PRINTABLE.fullmatch(text):
        return ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return _encoded_words(text)


def _mailbox_header(name: str, display: str, addr: str) -> bytes:
    return _fold(name, [*_phrase(display), f"<{addr}>"] if display else [addr])


def _unstructured(name: str, text: str) -> bytes:
    return _fold(name, [w for w in text.split(" ") if w] if _PRINTABLE.fullmatch(text) else _encoded_words(text))


@functools.lru_cache(maxsize=256)
def _from_header(sender: str) -> tuple[bytes, str, str]:
    """A sender's From line, address and domain: once per sender, not per email."""
    frm = parse_sender(sender)
    return _mailbox_header("From", frm.display_name, frm.addr_spec), frm.addr_spec, frm.domain


@functools.lru_cache(maxsize=1024)
def _subject_header(subject: str) -> bytes:
    """A Subject line: rendered per kind, so mostly the same for every customer of a run."""
    return _unstructured("Subject", subject)


def _qp(text: str) -> bytes:
    """A text part's body, quoted-printable (7-bit clean for any relay), its lines ending CRLF."""
    body = binascii.b2a_qp(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8"), istext=True)
    return body.replace(b"\n", b"\r\n")


_PART = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'


def build_message(*, sender: str, to_email: str, to_name: str, content: Rendered, ref: str,
                  date: dt.datetime | None = None, cc: tuple[str, ...] = (),
                  images: dict[str, bytes] | None = None,
                  attachments: list[tuple[str, bytes]] | None = None,
                  unsubscribe: Unsubscribe | None = None) -> Message:
    """One email with a plain-text and an HTML part, addressed to exactly one recipient (the
    instructor's summary may copy the data team). ``images`` are PNGs the HTML shows inline as
    ``cid:<name>@onboarding`` (the text part carries the same numbers); ``attachments`` are CSV
    files by name.

    A customer's email (no copy, image or attachment) is written directly: its header lines from
    the cleaned values (From and Subject once per sender and subject), its two parts
    quoted-printable. The instructor's summary and alerts are built with ``EmailMessage``. Either
    way ``check_message`` scans the bytes before the message is returned."""
    if cc or images or attachments:
        msg = _email_message(sender=sender, to_email=to_email, to_name=to_name, content=content, ref=ref,
                             date=date, cc=cc, images=images, attachments=attachments, unsubscribe=unsubscribe)
        check_message(msg, to_email, cc, parse_sender(sender).addr_spec)
        return msg
    from_line, from_addr, from_domain = _from_header(sender)
    subject = header_text(content.subject, 250)
    # Dated as the ledger dates its sending (the wall clock; a replayed night's, in the demo).
    when = format_datetime(date or sent_clock())
    message_id = make_msgid(idstring=ref, domain=from_domain)
    values = {"From": sender, "To": to_email, "Subject": subject, "Date": when, "Message-ID": message_id,
              REF_HEADER: ref}
    head = [from_line, _mailbox_header("To", header_text(to_name), to_email), _subject_header(subject),
            _unstructured("Date", when), _unstructured("Message-ID", message_id), _unstructured(REF_HEADER, ref)]
    if unsubscribe is not None:
        # Gmail and Yahoo's bulk-sender rules: marketing mail names its unsubscribe, one click when it can.
        values["List-Unsubscribe"] = unsubscribe.header(ref)
        head.append(_fold("List-Unsubscribe", values["List-Unsubscribe"].split(" ")))
        if unsubscribe.url:
            values["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            head.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    # Quoted-printable never holds "==", so the boundary cannot occur in a part.
    boundary = f"==============={random.randrange(10**18, 10**19)}==".encode("ascii")
    head.append(b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="' + boundary + b'"\r\n')
    body = b"".join((b"--", boundary, b"\r\n", _PART % b"plain", _qp(content.text), b"\r\n--", boundary, b"\r\n",
                     _PART % b"html", _qp(content.html), b"\r\n--", boundary, b"--\r\n"))
    msg = Built(values, head, body)
    check_message(msg, to_email, cc, from_addr)
    return msg


def _email_message(*, sender: str, to_email: str, to_name: str, content: Rendered, ref: str,
                   date: dt.datetime | None, cc: tuple[str, ...], images: dict[str, bytes] | None,
                   attachments: list[tuple[str, bytes]] | None, unsubscribe: Unsubscribe | None) -> EmailMessage:
    """The instructor's summary and alerts (copies, inline charts, attachments), by ``EmailMessage``."""
    frm = parse_sender(sender)
    user, domain = to_email.rsplit("@", 1)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = Address(display_name=header_text(to_name), username=user, domain=domain)
    if cc:
        msg["Cc"] = [Address(username=a.rsplit("@", 1)[0], domain=a.rsplit("@", 1)[1]) for a in cc]
    msg["Subject"] = header_text(content.subject, 250)
    msg["Date"] = format_datetime(date or sent_clock())
    msg["Message-ID"] = make_msgid(idstring=ref, domain=frm.domain)
    msg[REF_HEADER] = ref
    if unsubscribe is not None:
        msg["List-Unsubscribe"] = unsubscribe.header(ref)
        if unsubscribe.url:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(content.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(content.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if images:
        html = msg.get_payload()[1]
        for name, png in images.items():
            html.add_related(png, maintype="image", subtype="png", cid=f"<{name}@onboarding>",
                             filename=f"{name}.png", disposition="inline")
    for name, data in attachments or ():
        # UTF-8 with a byte-order mark, as the report files are written (Excel then reads them right).
        msg.add_attachment(data, maintype="text", subtype="csv", filename=name, params={"charset": "utf-8"})
    return msg


_HEADER_NAME = re.compile(rb"([!-9;-~]+):")
# A multipart's Content-Type as this module and the email package write it: the boundary its
# one parameter, quoted (readers differ on unquoted ones and on several).
_MULTIPART = re.compile(r'\s*multipart/[a-z]+;\s*boundary="([0-9A-Za-z\'()+_,./:=?-]{1,70})"\s*', re.IGNORECASE)
# Control characters other than the line break and tab: no encoder we use writes them, and mail
# programs read them differently (some end a header at a NUL).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What a customer's email is, read as a mail program shows it.
CUSTOMER_PARTS = ["multipart/alternative", "text/plain", "text/html"]
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_PLAIN_ADDR = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
                         r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
# One mailbox of an address list: a display name (atoms and encoded words, or one quoted string)
# before <addr-spec>, or a bare addr-spec; no comments, groups or routes.
_MAILBOX = re.compile(rf'[ \t]*(?:(?:[{_ATEXT}]+(?:[ \t]+[{_ATEXT}]+)*|"(?:[^"\\\r\n]|\\[ -~])*")?'
                      r'[ \t]*<([^<>\s]+)>|([^<>\s,;:"()\[\]\\]+))[ \t]*(?:,|$)')


def _header_block(block: bytes, allowed: set[str], where: str) -> dict[str, str]:
    """The headers of a block of header lines, unfolded, by lower-case name; refused unless every
    line is a header or its continuation, every name is ``allowed`` and none comes twice."""
    found: dict[str, str] = {}
    last = None
    for line in block.split(b"\r\n") if block else []:
        if line[:1] in (b" ", b"\t") and last is not None:
            if not line.strip():
                # RFC 5322 forbids it; some readers end the headers there, others read on.
                raise UnsafeMessage(f"{where} has a header line of only spaces")
            found[last] += line.decode("ascii")
            continue
        m = _HEADER_NAME.match(line)
        if m is None:
            raise UnsafeMessage(f"{where} has a line among its headers that is not a header")
        name = m.group(1).decode("ascii").lower()
        if name not in allowed:
            raise UnsafeMessage(f"{where} has header(s) the code did not set: {[name]}")
        if name in found:
            raise UnsafeMessage(f"{where} has header(s) more than once: {[name]}")
        found[name], last = line[m.end():].decode("ascii"), name
    return found


def _parts(headers: dict[str, str], body: bytes, allowed: set[str], depth: int = 0) -> list[str]:
    """The content types of a part and of every part inside it, in reading order (what a mail
    program shows); refused unless each multipart names one quoted boundary, opens with it, has
    every line that starts with it exactly a delimiter or the one closing delimiter, nothing before
    the first or after the last, and parts carrying only ``allowed`` headers, each once."""
    ctype = headers.get("content-type", "text/plain")
    kind = ctype.split(";", 1)[0].strip().lower()
    if not kind.startswith("multipart/"):
        return [kind]
    m = _MULTIPART.fullmatch(ctype)
    if m is None or depth > 5:
        raise UnsafeMessage("a part of the message cannot be read back: its boundary is not one quoted parameter")
    dash = b"--" + m.group(1).encode("ascii")
    lines = body.split(b"\r\n")
    opens, close = [], None
    for n, line in enumerate(lines):
        if line.startswith(dash):
            # A line that starts with the boundary is one to a mail program, whatever follows it.
            if close is not None or line not in (dash, dash + b"--"):
                raise UnsafeMessage("a part boundary of the message is not exactly the one it names")
            if line == dash:
                opens.append(n)
            else:
                close = n
    # Neither module writes a preamble or an epilogue (the message's last line break aside).
    if not opens or opens[0] != 0 or close is None or lines[close + 1:] not in ([], [b""]):
        raise UnsafeMessage("a multipart part of the message is not opened and closed by its boundary alone")
    found = [kind]
    for start, end in zip(opens, [*opens[1:], close]):
        chunk = b"\r\n".join(lines[start + 1:end])
        if chunk.startswith(b"\r\n"):  # a part without headers
            block, content = b"", chunk[2:]
        else:
            block, sep, content = chunk.partition(b"\r\n\r\n")
            if not sep:
                raise UnsafeMessage("a part of the message has no blank line after its headers")
        found += _parts(_header_block(block, allowed, "a part of the message"), content, allowed, depth + 1)
    return found


def _addresses(headers: dict[str, str], name: str) -> list[str]:
    """The addresses of an address header as a mail program reads them, lower-case; refused
    (``UnsafeMessage``) unless it is plain mailboxes with plain addresses."""
    value = headers.get(name.lower())
    if value is None:
        return []
    found, pos = [], 0
    while pos < len(value):
        m = _MAILBOX.match(value, pos)
        if m is None or m.end() == pos:
            raise UnsafeMessage(f"the message's {name} header cannot be read back")
        addr = m.group(1) or m.group(2)
        if '"' in m.group(0) and "=?" in m.group(0):
            # Mail programs decode an encoded word even inside quotes: the name shown is another.
            raise UnsafeMessage(f"the message's {name} header holds a quoted name with an encoded word in it")
        if "=?" in addr or not _PLAIN_ADDR.fullmatch(addr):
            # An encoded word in an address is decoded by mail programs into another address.
            raise UnsafeMessage(f"the message's {name} header holds an address that does not read back as "
                                f"written: the message would go to it, not only to the intended recipient")
        found.append(addr.lower())
        pos = m.end()
    return found


def check_message(msg: Message, to_email: str, cc: tuple[str, ...] = (), sender: str | None = None) -> None:
    """Read the message's bytes as a mail program would, and refuse it (``UnsafeMessage``) unless
    it goes to exactly ``to_email`` (and ``cc``), from ``sender``, with only the headers this module
    sets, each once (in its parts only theirs), 7-bit lines ending CRLF, none longer than 998 bytes.
    A scan of the bytes, not a parse with the email package: a header is a line that starts with
    a name and a colon, an address header plain mailboxes with plain ``local@domain`` addresses."""
    raw = bytes(msg)
    if not raw.isascii():
        raise UnsafeMessage("the message has 8-bit bytes (headers and parts must be encoded)")
    if _CONTROL.search(raw):
        raise UnsafeMessage("the message has a control character (headers and parts must be encoded)")
    if raw.count(b"\n") != raw.count(b"\r\n") or raw.count(b"\r") != raw.count(b"\r\n"):
        raise UnsafeMessage("the message has a line break that is not CRLF")
    lines = raw.split(b"\r\n")
    longest = max(map(len, lines))
    if longest > MAX_LINE_BYTES:
        number = next(n for n, line in enumerate(lines, start=1) if len(line) == longest)
        raise UnsafeMessage(f"line {number} of the message is {longest} bytes (at most {MAX_LINE_BYTES})")
    block, _, body = raw.partition(b"\r\n\r\n")
    allowed = {h.lower() for h in HEADERS}
    headers = _header_block(block, allowed, "the message")
    shown = _parts(headers, body, allowed | {h.lower() for h in PART_HEADERS})
    meant = [p.get_content_type() for p in msg.walk()] if isinstance(msg, EmailMessage) else CUSTOMER_PARTS
    if shown != meant:
        raise UnsafeMessage(f"the message reads as parts {shown}, not the {meant} it was built as")
    if _addresses(headers, "To") != [to_email.lower()]:
        raise UnsafeMessage("the message would go to another address, not only to the intended recipient")
    if _addresses(headers, "Cc") != [a.lower() for a in cc]:
        raise UnsafeMessage(f"the message would be copied to {_addresses(headers, 'Cc')}, not exactly {list(cc)}")
    if sender is not None and _addresses(headers, "From") != [sender.lower()]:
        raise UnsafeMessage(f"the message would be from {_addresses(headers, 'From')}, not {sender}")


def customer_email(cohort: Cohort, kind: str, email_addr: str, name: str, ref: str,
                   first_name: str | None = None, unsubscribe: Unsubscribe | None = None,
                   due: str | dt.datetime | None = None, csm: Any = None, language: str | None = None) -> Message:
    """Render one customer email of the ledger's ``kind`` (a journey's ``<stage>:<kind>``; the
    seed journey's kinds name no stage: its one stage's) and build the message, as every
    journey's: its stage's template (``stage_template``: the seed's are its journey's own, in
    ``journeys/seed/onboarding/<kind>/``) in the customer's ``language`` when it has that variant;
    a marketing kind carries how to unsubscribe (headers, and a visible link or address)."""
    journey = journey_of(cohort)
    stage_id, _, own = kind.rpartition(":")
    stage = journey.stage(stage_id) if stage_id else journey.stages[0]
    return stage_email(cohort, journey, stage, own, email_addr, name, ref, due, first_name, unsubscribe, csm,
                       language)


def stage_email(cohort: Cohort, journey: Any, stage: Any, kind: str, email_addr: str, name: str, ref: str,
                due: str | dt.datetime | None = None, first_name: str | None = None,
                unsubscribe: Unsubscribe | None = None, csm: Any = None, language: str | None = None) -> Message:
    """Render and build one email of a journey's stage (``due``: the stage's due time, a moment
    written in the email's language, or text as the customer reads it), in the customer's
    ``language`` when its template has that variant, with the same safety checks as every customer
    email. ``csm`` (the customer's CSM: ``name``, ``email``) is named in the templates; the emails
    of the stage that introduces the CSM go out in the CSM's name, from the CSM's address."""
    folder = getattr(cohort, "templates", None)
    choice = choose_template(journey.id, stage, kind, language, folder)
    context = email_context(cohort, name, ref, first_name, choice.lang)
    sender = cohort.sender
    if csm is not None and stage.assign_csm:
        sender = str(Address(display_name=header_text(csm.name), addr_spec=csm.email))
        context["signature"] = header_text(csm.name)
    if isinstance(due, dt.datetime):
        due = f"{long_datetime(due.astimezone(cohort.tz), choice.lang)} ({cohort.timezone})"
    env = _env(folder)
    titles = journey_titles(env, journey.id, choice.language)
    content = render_in(env, choice.path, {
        **context, "journey": Titled(journey, titles.get("title") or journey.title),
        "stage": Titled(stage, (titles.get("stages") or {}).get(stage.id) or stage.title),
        "due": due, "unsubscribe": unsubscribe, "csm": csm})
    return build_message(sender=sender, to_email=email_addr, to_name=name, content=content, ref=ref,
                         unsubscribe=unsubscribe)


def email_context(cohort: Cohort, name: str, ref: str, first_name: str | None = None,
                  lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """What a customer email's templates may use. The greeting is by first name when the signup
    export has one (a ``first_name`` column), else by the whole name as the export gives it; the
    dates in ``lang``, the language the email is written in (``lang`` in the templates)."""
    sender_name = parse_sender(cohort.sender).display_name
    first = clean_name(first_name or "")
    end = cohort.deadline_at - dt.timedelta(microseconds=1)
    return {"name": clean_name(name), "greeting_name": first or clean_name(name), "cohort": cohort,
            "deadline": f"{long_datetime(end, lang)} ({cohort.timezone})",
            "deadline_date": day_month_year(cohort.deadline, lang), "course_url": cohort.course_url,
            "next_steps": list(cohort.next_steps), "ref": ref, "lang": lang,
            "signature": sender_name or "The course team"}
