"""What the project accepts as an email address, wherever one comes from (an export, the cohort
file, the trigger form): the plain form every mail program reads the same way."""
from __future__ import annotations

import re

# RFC 5322 dot-atom local part (lower case: emails match after lower-casing) and an LDH domain.
EMAIL_REGEX = (r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
               r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
# An RFC 2047 encoded word, or anything that starts one: mail programs decode these into other text.
ENCODED_WORD = re.compile(r"=\?")
MAX_EMAIL_CHARS = 254


def normalised(value: object) -> str:
    """An address as addresses are matched: trimmed, and lower-cased only when it is all ASCII.
    Lower-casing folds the Kelvin sign (U+212A) into an ASCII ``k``: ``\u212aelvin@x.org``, at
    which nobody can receive, would become kelvin@x.org, another person's address. Left as
    written, it is refused as not a plain address."""
    text = str(value or "").strip()
    return text.lower() if text.isascii() else text


def is_plain_address(value: str) -> bool:
    """A lower-case address in the accepted form, without anything a mail program would decode."""
    return (len(value) <= MAX_EMAIL_CHARS and re.fullmatch(EMAIL_REGEX, value) is not None
            and not ENCODED_WORD.search(value))


# Anything shaped like an address in a free text (a provider's error, a bounce's detail, an
# erasure's reason), whoever's it is: a fullwidth '@' too, since some mail programs show it as one.
# The one pattern for every mask (the task log's and the erasure reason's), so none misses one.
ANY_ADDRESS = re.compile(r"[^\s<>()\[\]{},;:\"]+[@\uff20][^\s<>()\[\]{},;:\"]+")


def without_addresses(text: object) -> str:
    """A text bound for Airflow's task log, which an erasure does not reach: addresses masked."""
    return ANY_ADDRESS.sub("<address>", str(text))
