"""Rendering and building emails.

Templates live in ``include/templates/<kind>/``: ``subject.txt``, ``body.txt`` and ``body.html``
(Jinja2; the HTML autoescaped, so a name like ``<b>Eve</b>`` shows as typed). Messages are built
with the standard library's ``EmailMessage``: names are RFC 2047-encoded when not ASCII, and no
value can add a header, because every header value is cleaned to one line and addresses go
through ``headerregistry.Address``.
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
from onboarding.paths import TEMPLATES_DIR
from onboarding.validation.values import clean_name

REF_HEADER = "X-Onboarding-Ref"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(kind: str, **context: Any) -> Rendered:
    env = _env()
    subject = env.get_template(f"{kind}/subject.txt").render(**context)
    return Rendered(
        subject=" ".join(subject.split()),
        text=env.get_template(f"{kind}/body.txt").render(**context),
        html=env.get_template(f"{kind}/body.html").render(**context),
    )


def parse_sender(value: str) -> Address:
    """'Course Team <team@example.edu>' or a bare address, as a header-safe Address."""
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise ValueError(f"sender {value!r} is not one email address")
    name, addr = pairs[0]
    user, domain = addr.rsplit("@", 1)
    return Address(display_name=clean_name(name), username=user, domain=domain)


def build_message(*, sender: str, to_email: str, to_name: str, content: Rendered, ref: str,
                  date: dt.datetime | None = None, cc: tuple[str, ...] = ()) -> EmailMessage:
    """One email with a plain-text and an HTML part, addressed to exactly one recipient (the
    instructor's summary may copy the data team)."""
    frm = parse_sender(sender)
    user, domain = to_email.rsplit("@", 1)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = Address(display_name=clean_name(to_name), username=user, domain=domain)
    if cc:
        msg["Cc"] = [Address(username=a.rsplit("@", 1)[0], domain=a.rsplit("@", 1)[1]) for a in cc]
    msg["Subject"] = clean_name(content.subject)
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(idstring=ref, domain=frm.domain)
    msg[REF_HEADER] = ref
    # Quoted-printable keeps the message 7-bit clean for any relay, whatever the names hold.
    msg.set_content(content.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(content.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def customer_email(cohort: Cohort, kind: str, email_addr: str, name: str, ref: str) -> EmailMessage:
    """Render one customer email of ``kind`` and build the message."""
    content = render(kind, **email_context(cohort, name, ref))
    return build_message(sender=cohort.sender, to_email=email_addr, to_name=name, content=content, ref=ref)


def email_context(cohort: Cohort, name: str, ref: str) -> dict[str, Any]:
    """What a customer email's templates may use."""
    sender_name = parse_sender(cohort.sender).display_name
    return {"name": clean_name(name), "cohort": cohort, "deadline": cohort.deadline_display(),
            "deadline_date": f"{cohort.deadline:%d %B %Y}", "course_url": cohort.course_url,
            "next_steps": list(cohort.next_steps), "ref": ref,
            "signature": sender_name or "The course team"}
