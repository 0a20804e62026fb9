"""An email's identity and its reference: what makes two emails the same email (sent at most once),
and the token each email carries so a bounce or a reply can name it.

``EmailId`` is the identity as a value: the cohort, the recipient, the ledger's kind (a journey's
is ``<stage>:<kind>``), the journey stage, the visit of that stage (a second visit after a
rejection is another email), and what makes an extra copy: a resend asked for by hand (its run),
a soft bounce's one retry, or an email sent once per run (a digest, a summary, an alert: its run).
The ledger stores each part in a column of its own and every query matches on those columns;
``key`` is only the ledger row's name, an unambiguous encoding of the parts (each part is
escaped, so no address, whatever it contains, can pass for another email or for an extra copy).
Nothing parses a key back: a row's identity is read from its columns (``from_row``).

``References`` makes an email's reference, ``onb-`` and 20 hex characters of an HMAC-SHA256 of
its key under the deployment's secret: nobody without the secret can name an email. A reference
is made once, when the email is entered in the ledger; the ledger's stored ``ref`` is the truth
from then on (emails entered before references were keyed keep their plain-hash ones).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Mapping

# The ledger's identity columns (besides cohort_id, recipient and kind), and their values for an
# email that is no journey stage's, a first visit, and no extra copy.
IDENTITY_DEFAULTS = {"stage": "", "visit": 1, "resend_run_id": "", "retry": 0, "per_run_id": ""}


def _part(text: str) -> str:
    """One part of a key, with ``%`` and the separator ``|`` escaped: the parts of a key can be
    told apart whatever they contain (and a key of plain parts reads as it always did)."""
    if "%" not in text and "|" not in text:  # most parts: nothing to escape (a million keys a night)
        return text
    return text.replace("%", "%25").replace("|", "%7C")


@dataclass(frozen=True, slots=True)
class EmailId:
    """One email's identity: at most one is ever sent per identity."""

    cohort_id: str
    recipient: str
    kind: str  # the ledger's kind: reminder, welcome, <stage>:<kind>, digest, summary, alert
    stage: str = ""  # the journey stage the email belongs to ('' for the seed journey's and others)
    visit: int = 1  # the visit of that stage: a stage visited again calls for its emails again
    resend_run_id: str = ""  # a resend asked for by hand: the run that asked
    retry: bool = False  # the one retry of an email whose first sending bounced softly
    per_run_id: str = ""  # an email sent once per run (a digest, a summary, an alert): that run
    # The key, made once (its reference and its columns both read it): a cache beside the fields,
    # not one of them (never compared, hashed or shown). Slots, not a dict per identity: a night
    # holds a million of them.
    _key: str | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # The stage is the journey kind's prefix (so the key need not repeat it), and only that.
        if self.stage != (self.kind.partition(":")[0] if ":" in self.kind else ""):
            raise ValueError(f"email kind {self.kind!r} does not belong to stage {self.stage!r}")
        if not isinstance(self.visit, int) or self.visit < 1:
            raise ValueError(f"a stage's visit is counted from 1, not {self.visit!r}")

    @classmethod
    def of(cls, cohort_id: str, recipient: str, kind: str, visit: int = 1) -> "EmailId":
        """An email by its ledger kind (a journey's ``<stage>:<kind>`` belongs to that stage)."""
        return cls(cohort_id, recipient, kind, kind.partition(":")[0] if ":" in kind else "", visit)

    @classmethod
    def journey(cls, cohort_id: str, recipient: str, stage: str, kind: str, visit: int = 1) -> "EmailId":
        """A journey email: the ledger's kind is ``<stage>:<kind>``."""
        return cls(cohort_id, recipient, f"{stage}:{kind}", stage=stage, visit=visit)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "EmailId":
        """The identity a ledger (or decisions) row stores in its columns (``email`` for a decision's
        recipient)."""
        recipient = row["recipient"] if "recipient" in row else row["email"]
        kind = row["kind"]
        stage = row.get("stage")
        if stage is None:  # a row without its stage column: the stage its kind belongs to
            stage = kind.partition(":")[0] if ":" in kind else ""
        return cls(row["cohort_id"], recipient, kind, stage, int(row.get("visit") or 1),
                   row.get("resend_run_id") or "", bool(row.get("retry") or 0), row.get("per_run_id") or "")

    @property
    def extra(self) -> bool:
        """A copy beside the email the rules decide: a resend asked for by hand, or a bounce's retry."""
        return bool(self.resend_run_id) or self.retry

    @property
    def original(self) -> "EmailId":
        """The email this one is a copy of (itself, when it is no copy)."""
        return EmailId(self.cohort_id, self.recipient, self.kind, self.stage, self.visit)

    def resend(self, run_id: str) -> "EmailId":
        """The same email sent again by hand, asked for in ``run_id``: sent at most once too."""
        return EmailId(self.cohort_id, self.recipient, self.kind, self.stage, self.visit, resend_run_id=run_id)

    def retried(self) -> "EmailId":
        """The one retry of this email after a soft bounce."""
        return EmailId(self.cohort_id, self.recipient, self.kind, self.stage, self.visit, self.resend_run_id, True)

    @property
    def key(self) -> str:
        """The ledger row's name: every part escaped, the optional ones tagged (made once per
        identity: its reference and its columns both read it)."""
        key = self._key
        if key is None:
            key = self._make_key()
            object.__setattr__(self, "_key", key)
        return key

    def _make_key(self) -> str:
        parts = [_part(self.cohort_id), _part(self.recipient), _part(self.kind)]
        if self.visit != 1:
            parts.append(f"visit{int(self.visit)}")
        if self.resend_run_id:
            parts += ["resend", _part(self.resend_run_id)]
        if self.retry:
            parts.append("retry")
        if self.per_run_id:
            parts += ["run", _part(self.per_run_id)]
        return "|".join(parts)

    def columns(self) -> dict[str, Any]:
        """The ledger's (and the decisions') columns for this identity, its key included."""
        return {"email_key": self.key, "cohort_id": self.cohort_id, "recipient": self.recipient, "kind": self.kind,
                "stage": self.stage, "visit": int(self.visit), "resend_run_id": self.resend_run_id,
                "retry": int(self.retry), "per_run_id": self.per_run_id}


@dataclass(frozen=True)
class References:
    """The deployment's reference maker (the secret never shows in a repr or a log)."""

    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the reference secret must be at least 32 characters")

    def __call__(self, email: EmailId) -> str:
        """``onb-`` and 20 hex characters of HMAC-SHA256(secret, key): unforgeable without the secret."""
        return self.many([email])[0]

    def many(self, emails: list["EmailId | None"]) -> list[str | None]:
        """Each email's reference (None for None), in one loop: a night makes a million."""
        # hmac.digest: the one-shot C path, the same HMAC-SHA256.
        secret, digest = self.secret.encode("utf-8"), hmac.digest
        return [None if e is None else "onb-" + digest(secret, e.key.encode("utf-8"), "sha256").hex()[:20]
                for e in emails]

    def pseudonym(self, person: str) -> str:
        """A short stable name for a member of staff where an erasure cannot follow (Airflow's grid
        and XComs): 10 hex characters of HMAC-SHA256(secret, person), naming nobody without the secret."""
        return hmac.new(self.secret.encode("utf-8"), b"staff|" + person.encode("utf-8"),
                        hashlib.sha256).hexdigest()[:10]
