"""``erasures``: forgetting a person (see ``onboarding.pipeline.erasure``). The rows that hold
the address go, in one transaction; what stays is an audit record with a salted hash of it, and
a suppression entry under the same hash, so a later export cannot bring them back."""
from __future__ import annotations

import json
import re
import secrets
from typing import Any, Callable

from onboarding import sqlfiles
from onboarding.consent import hashed_address
from onboarding.redaction import without_people
from onboarding.store import db
from onboarding.times import iso, utcnow


class Erasures:
    def __init__(self, store):
        self._s = store

    def salt(self) -> str:
        """This database's salt, made on first use."""
        found = self._s.scalar("privacy_salt")
        if found:
            return found
        self._s.execute("privacy_salt_create", {"salt": secrets.token_hex(32)})
        return self._s.scalar("privacy_salt")

    def erased(self, address: str, cohort_id: str = "*") -> bool:
        """Whether the person at ``address`` was erased from ``cohort_id`` or from everything
        (``cohort_id`` '*': from everything), by the salted hash an erasure keeps. No salt yet:
        nobody was ever erased (and none is made here)."""
        salt = self._s.scalar("privacy_salt")
        if not salt or "@" not in (address or ""):
            return False
        return bool(self._s.scalar("erased_person", address_hash=hashed_address(salt, address),
                                   cohort_id=cohort_id or "*"))

    def names(self, address: str, scope: str) -> list[str]:
        """The names the person goes by in the rows an erasure of ``scope`` removes."""
        return sorted({r["name"] for r in self._s.rows("erasure_names", address=address, scope=scope) if r["name"]})

    def staff_names(self, address: str, scope: str) -> list[str] | None:
        """The names a CSM goes by in the state database (a roster export's, her placements'), or
        None when the address is nobody's CSM there."""
        found = self._s.rows("erasure_staff", address=address, scope=scope)
        return sorted({r["name"] for r in found if r["name"]}) if found else None

    def delete_person(self, address: str, scope: str, scrub: Callable[[str], str],
                      scrub_listing: Callable[[str], str] | None = None,
                      placeholder: str = "[erased]") -> dict[str, int]:
        """Delete every row holding the address (in one cohort, or '*': all), and pass every stored
        text quoting it through ``scrub`` (an approval request from before its people had rows of
        their own through ``scrub_listing``, which takes out her line); returns the rows per table.
        Staff: her customers' placements go, and what is kept for them (her approval requests, the
        answers she gave) reads ``placeholder`` where her address was, ``scrub`` on their texts."""
        counts: dict[str, int] = {}
        for r in self._s.rows("erasure_listed_requests", address=address, scope=scope):
            self._s.execute("erasure_set_request_body", {"run_id": r["run_id"], "cohort_id": r["cohort_id"],
                                                         "stage": r["stage"], "approver": r["approver"],
                                                         "text": (scrub_listing or scrub)(r["body"])})
            counts["approval_requests (text)"] = counts.get("approval_requests (text)", 0) + 1
        with self._s.connection() as conn:
            for text, stmt in zip(sqlfiles.load("erase_person"), db.script("erase_person")):
                verb, table = re.search(r"(DELETE FROM|UPDATE|INSERT INTO)\s+(\w+)", text).groups()
                n = conn.execute(stmt, {"address": address, "scope": scope, "placeholder": placeholder}).rowcount
                if n and verb != "INSERT INTO":  # a request moved under the placeholder counts once, as updated
                    key = table if verb == "DELETE FROM" else f"{table} (placeholder)"
                    counts[key] = counts.get(key, 0) + n
        for r in self._s.rows("erasure_staff_requests", placeholder=placeholder):
            subject, body = scrub(r["subject"]), scrub(r["body"])
            if (subject, body) != (r["subject"], r["body"]):
                self._s.execute("erasure_set_request_text", {**{k: r[k] for k in ("run_id", "cohort_id", "stage",
                                                                                  "approver")},
                                                             "subject": subject, "body": body})
                counts["approval_requests (text)"] = counts.get("approval_requests (text)", 0) + 1
        self.rewrite_texts(address, scope, scrub, counts)
        return counts

    def rewrite_texts(self, needle: str, scope: str, scrub: Callable[[str], str], counts: dict[str, int]) -> None:
        """Pass the stored texts quoting ``needle`` (an address, or a staff member's name) through
        ``scrub``: a run's error, the data team's run record; counted into ``counts``."""
        # A prefilter only (the needle as a literal: its % and _ escaped); ``scrub`` matches it
        # whole before anything is rewritten.
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", needle.lower()) + "%"
        for r in self._s.rows("erasure_texts", pattern=pattern, scope=scope):
            cleaned = scrub(r["text"])
            if cleaned != r["text"]:
                name = "erasure_set_run_error" if r["tbl"] == "runs" else "erasure_set_report_record"
                self._s.execute(name, {"text": cleaned, "run_id": r["run_id"], "cohort_id": r["cohort_id"]})
                counts[f"{r['tbl']} (text)"] = counts.get(f"{r['tbl']} (text)", 0) + 1

    def suppress(self, address: str, scope: str, by: str | None, erasure_id: str) -> str:
        """Suppress the person under the salted hash of their address; returns the hash."""
        digest = hashed_address(self.salt(), address)
        self._s.execute("suppression_add_erased", {"address": digest, "cohort_id": scope, "added_by": by,
                                                   "note": f"erasure {erasure_id}", "now": iso(utcnow())})
        return digest

    def record(self, erasure_id: str, digest: str, scope: str, by: str | None, reason: str | None,
               counts: dict[str, Any], names: list[str] | tuple[str, ...] = ()) -> None:
        """The audit record. Its reason is kept naming nobody: every address in it, and the erased
        person's ``names``, read as placeholders."""
        self._s.execute("erasure_record", {"erasure_id": erasure_id, "address_hash": digest, "scope": scope,
                                           "requested_by": by, "reason": without_people(reason, names),
                                           "counts": json.dumps(counts), "now": iso(utcnow())})

    def runs(self, scope: str) -> list[dict[str, Any]]:
        return self._s.rows("erasure_runs", scope=scope)

    def set_inputs(self, run_id: str, cohort_id: str, inputs: dict[str, Any]) -> None:
        self._s.execute("run_set_inputs", {"run_id": run_id, "cohort_id": cohort_id, "inputs": json.dumps(inputs)})

    def all(self) -> list[dict[str, Any]]:
        return self._s.rows("erasures_all")
