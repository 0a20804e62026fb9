"""Rendering and building emails.

Templates live in ``include/templates/<name>/``: ``subject.txt``, ``body.txt`` and ``body.html``
(a customer email's: its journey's, ``journeys/<journey>/<stage>/<kind>/``, or its role's default,
``journey/<role>/``; Jinja2; the HTML autoescaped, so a name like ``<b>Eve</b>`` shows as typed). Messages are built
with the standard library's ``EmailMessage``: names are RFC 2047-encoded when not ASCII, and no
value can add a header, because every header value is cleaned to one line, stripped of anything
that would read as an encoded word, and addresses go through ``headerregistry.Address``.

Then every built message is read back as a mail program would read it (``check_message``): it
must have exactly the recipients it was built for, no header the code did not set, and no line
longer than SMTP allows (998 bytes). A message that fails is never sent (``UnsafeMessage``).
"""
from __future__ import annotations

import datetime as dt
import email.policy
import functools
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any

from onboarding.cohorts import Cohort
from onboarding.decisions import journey_of
from onboarding.errors import UnsafeMessage
from onboarding.paths import TEMPLATES_DIR
from onboarding.validation.values import MAX_NAME_CHARS, clean_name

REF_HEADER = "X-Onboarding-Ref"
# The headers this module sets; a built message with any other is refused.
HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", REF_HEADER, "MIME-Version", "Content-Type",
           "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post")
# The headers a part (an inline chart, an attached CSV) may carry besides those.
PART_HEADERS = ("Content-ID", "Content-Disposition")
MAX_LINE_BYTES = 998  # RFC 5322 section 2.1.1


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def _env():
    import jinja2

    from pathlib import PurePath

    from onboarding import words

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The same words everywhere she reads (email, CSV, sheet, page); a file by its name only,
    # never a server's path.
    env.filters.update(standing=words.standing, email_state=words.email_state,
                       basename=lambda p: PurePath(str(p or "").replace("\\", "/")).name)
    return env


def render(kind: str, **context: Any) -> Rendered:
    env = _env()
    subject = " ".join(env.get_template(f"{kind}/subject.txt").render(**context).split())
    return Rendered(
        subject=subject,
        text=env.get_template(f"{kind}/body.txt").render(**context),
        html=env.get_template(f"{kind}/body.html").render(**context, subject_line=subject),
    )


def parse_sender(value: str) -> Address:
    """'Course Team <team@example.edu>' or a bare address, as a header-safe Address."""
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


def build_message(*, sender: str, to_email: str, to_name: str, content: Rendered, ref: str,
                  date: dt.datetime | None = None, cc: tuple[str, ...] = (),
                  images: dict[str, bytes] | None = None,
                  attachments: list[tuple[str, bytes]] | None = None,
                  unsubscribe: Unsubscribe | None = None) -> EmailMessage:
    """One email with a plain-text and an HTML part, addressed to exactly one recipient (the
    instructor's summary may copy the data team). ``images`` are PNGs the HTML shows inline as
    ``cid:<name>@onboarding`` (the text part carries the same numbers); ``attachments`` are CSV
    files by name."""
    frm = parse_sender(sender)
    user, domain = to_email.rsplit("@", 1)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = Address(display_name=header_text(to_name), username=user, domain=domain)
    if cc:
        msg["Cc"] = [Address(username=a.rsplit("@", 1)[0], domain=a.rsplit("@", 1)[1]) for a in cc]
    msg["Subject"] = header_text(content.subject, 250)
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(idstring=ref, domain=frm.domain)
    msg[REF_HEADER] = ref
    if unsubscribe is not None:
        # Gmail and Yahoo's bulk-sender rules: marketing mail names its unsubscribe, one click when it can.
        msg["List-Unsubscribe"] = unsubscribe.header(ref)
        if unsubscribe.url:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps the message 7-bit clean for any relay, whatever the names hold.
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
    check_message(msg, to_email, cc, frm.addr_spec)
    return msg


def check_message(msg: EmailMessage, to_email: str, cc: tuple[str, ...] = (), sender: str | None = None) -> None:
    """Read the message back as a mail program would, and refuse it (``UnsafeMessage``) unless it
    goes to exactly ``to_email`` (and ``cc``), from ``sender``, with only the headers this module
    sets, each once, and no line longer than 998 bytes."""
    raw = bytes(msg)
    for number, line in enumerate(raw.split(b"\r\n"), start=1):
        if len(line) > MAX_LINE_BYTES:
            raise UnsafeMessage(f"line {number} of the message is {len(line)} bytes (at most {MAX_LINE_BYTES})")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    allowed = {h.lower() for h in HEADERS}
    names = [k.lower() for k in parsed.keys()]
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise UnsafeMessage(f"the message has header(s) the code did not set: {unknown}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UnsafeMessage(f"the message has header(s) more than once: {twice}")
    part_allowed = allowed | {h.lower() for h in PART_HEADERS}
    for part in parsed.walk():
        if part is not parsed and set(k.lower() for k in part.keys()) - part_allowed:
            raise UnsafeMessage("a part of the message has a header the code did not set")

    def addresses(header: str) -> list[str]:
        try:
            value = parsed[header]
            return [a.addr_spec.lower() for a in value.addresses] if value is not None else []
        except Exception as exc:  # noqa: BLE001 - a header a mail program cannot read is not safe to send
            # e.g. encoded words that decode to a group ("Bcc: x@y;"): the email package itself fails.
            raise UnsafeMessage(f"the message's {header} header cannot be read back ({type(exc).__name__})") from None

    if addresses("To") != [to_email.lower()]:
        raise UnsafeMessage(f"the message would go to {addresses('To')}, not only to the intended recipient")
    if addresses("Cc") != [a.lower() for a in cc]:
        raise UnsafeMessage(f"the message would be copied to {addresses('Cc')}, not exactly {list(cc)}")
    if sender is not None and addresses("From") != [sender.lower()]:
        raise UnsafeMessage(f"the message would be from {addresses('From')}, not {sender}")


def customer_email(cohort: Cohort, kind: str, email_addr: str, name: str, ref: str,
                   first_name: str | None = None, unsubscribe: Unsubscribe | None = None,
                   due: str | None = None, csm: Any = None) -> EmailMessage:
    """Render one customer email of the ledger's ``kind`` (a journey's ``<stage>:<kind>``; the
    seed journey's kinds name no stage: its one stage's) and build the message, as every
    journey's: its stage's template (``stage_template``: the seed's are its journey's own, in
    ``journeys/seed/onboarding/<kind>/``); a marketing kind carries how to unsubscribe (headers,
    and a visible link or address)."""
    journey = journey_of(cohort)
    stage_id, _, own = kind.rpartition(":")
    stage = journey.stage(stage_id) if stage_id else journey.stages[0]
    return stage_email(cohort, journey, stage, own, email_addr, name, ref, due, first_name, unsubscribe, csm)


def stage_role(stage: Any, kind: str) -> str:
    """Which default a journey email falls back on: ``enter`` (an email on entering the stage),
    ``complete``, ``reminder`` (``reminder_1``, ``reminder_2``...) or ``cancellation``."""
    if kind in stage.emails_on_enter:
        return "enter"
    if kind in stage.emails_on_complete:
        return "complete"
    if kind == "cancellation" or kind.startswith("reminder"):
        return "reminder" if kind.startswith("reminder") else "cancellation"
    raise ValueError(f"stage {stage.id!r} sends no email {kind!r}")


def stage_template(journey_id: str, stage: Any, kind: str) -> str:
    """The template folder of a journey email: ``journeys/<journey>/<stage>/<kind>/`` when the
    journey has its own, else the default for its role (``journey/<role>/``): a journey needs no
    template to start with."""
    own = f"journeys/{journey_id}/{stage.id}/{kind}"
    return own if (TEMPLATES_DIR / own / "subject.txt").is_file() else f"journey/{stage_role(stage, kind)}"


def stage_email(cohort: Cohort, journey: Any, stage: Any, kind: str, email_addr: str, name: str, ref: str,
                due: str | None = None, first_name: str | None = None,
                unsubscribe: Unsubscribe | None = None, csm: Any = None) -> EmailMessage:
    """Render and build one email of a journey's stage (``due``: the stage's due time as the
    customer reads it), with the same safety checks as every customer email. ``csm`` (the
    customer's CSM: ``name``, ``email``) is named in the templates; the emails of the stage that
    introduces the CSM go out in the CSM's name, from the CSM's address."""
    context = email_context(cohort, name, ref, first_name)
    sender = cohort.sender
    if csm is not None and stage.assign_csm:
        sender = str(Address(display_name=header_text(csm.name), addr_spec=csm.email))
        context["signature"] = header_text(csm.name)
    content = render(stage_template(journey.id, stage, kind), **context, journey=journey, stage=stage, due=due,
                     unsubscribe=unsubscribe, csm=csm)
    return build_message(sender=sender, to_email=email_addr, to_name=name, content=content, ref=ref,
                         unsubscribe=unsubscribe)


def email_context(cohort: Cohort, name: str, ref: str, first_name: str | None = None) -> dict[str, Any]:
    """What a customer email's templates may use. The greeting is by first name when the signup
    export has one (a ``first_name`` column), else by the whole name as the export gives it."""
    sender_name = parse_sender(cohort.sender).display_name
    first = clean_name(first_name or "")
    return {"name": clean_name(name), "greeting_name": first or clean_name(name), "cohort": cohort, "deadline": cohort.deadline_display(),
            "deadline_date": f"{cohort.deadline:%d %B %Y}", "course_url": cohort.course_url,
            "next_steps": list(cohort.next_steps), "ref": ref,
            "signature": sender_name or "The course team"}
