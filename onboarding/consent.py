"""The words of consent and suppression, shared by the configuration, the store and the rules
(``decisions.suppression``): who must not be emailed, why, and each email kind's class.

An entry suppresses one address, or a whole domain (``@example.org``), for one cohort or for all
(``*``), for a reason: ``manual`` (a "do not contact"), ``unsubscribed``, ``hard_bounce``,
``complaint`` or ``erased``. Every kind is ``transactional`` (what the customer's own signup asks
for: reminder, cancellation, welcome) or ``marketing`` (an offer).
"""
from __future__ import annotations

from dataclasses import dataclass

from onboarding.addresses import normalised

REASONS = ("manual", "unsubscribed", "hard_bounce", "complaint", "erased")
CLASSES = ("transactional", "marketing")
TRANSACTIONAL = CLASSES[0]  # every kind's class unless the cohort file says otherwise


ERASED_PREFIX = "sha256:"


@dataclass(frozen=True)
class Suppression:
    address: str  # a lower-case address, '@domain' for a whole domain, or 'sha256:<hash>' (erased)
    reason: str
    source: str  # config, cli, form, bounce...
    cohort_id: str = "*"  # '*': every cohort
    created_at: str | None = None

    def describe(self) -> str:
        if self.reason == "erased":
            return "the person was erased on request; they are never emailed again"
        what = f"the domain {self.address[1:]}" if self.address.startswith("@") else "the address"
        when = f", {self.created_at[:10]}" if self.created_at else ""
        return f"{what} is suppressed ({self.reason.replace('_', ' ')}, from {self.source}{when})"


def hashed_address(salt: str, address: str) -> str:
    """How an erased address is kept: a salted hash (HMAC-SHA256 with the database's salt), by
    which a later export's row is recognised without the address being stored anywhere."""
    import hashlib
    import hmac

    return ERASED_PREFIX + hmac.new(salt.encode(), address.strip().lower().encode(), hashlib.sha256).hexdigest()


def normalise_suppression(address: str) -> str:
    """An entry's address as the list keeps it: lower case, no spaces; a domain as '@domain'."""
    text = normalised(address)
    if not text:
        raise ValueError("an empty address cannot be suppressed")
    if "@" not in text:
        text = "@" + text
    local, _, domain = text.rpartition("@")
    if not domain or "." not in domain or any(c.isspace() or c in "<>,;" for c in text):
        raise ValueError(f"{address!r} is neither an email address nor a domain (@example.org)")
    if not text.isascii():
        # Every address emailed is plain ASCII: this entry would stop nobody (and lower-cased, a
        # Kelvin sign would have stopped someone else).
        raise ValueError(f"{address!r} has a character beyond ASCII; no address emailed has one")
    return text


# --- unsubscribing from marketing emails ------------------------------------------------------------
def unsubscribe_mailto(sender_address: str) -> str:
    """Where an unsubscribe mail goes: the sender's own mailbox, plus-addressed (``team+unsubscribe@
    example.edu``), so the pipeline can read the requests back from the account it sends from."""
    local, _, domain = sender_address.rpartition("@")
    return f"{local.split('+')[0]}+unsubscribe@{domain}"


def unsubscribe_token(secret: str, cohort_id: str, email: str) -> str:
    """A token for one customer's one-click unsubscribe link: who and which cohort, signed with
    the deployment's secret so that nobody can unsubscribe anyone else."""
    import base64

    return _signed(secret, base64.urlsafe_b64encode(f"{cohort_id}|{email}".encode()).decode().rstrip("="))


def read_unsubscribe_token(secret: str, token: str) -> tuple[str, str] | None:
    """(cohort id, email) of a genuine token; None for anything forged, altered or malformed."""
    import base64
    import binascii
    import hmac

    token = token or ""
    payload = token.partition(".")[0]
    if not payload or len(token) > 1000 or not hmac.compare_digest(token.encode(), _signed(secret, payload).encode()):
        return None
    try:
        cohort_id, _, email = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().partition("|")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (cohort_id, email) if cohort_id and "@" in email else None


def _signed(secret: str, payload: str) -> str:
    import base64
    import hashlib
    import hmac

    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
