"""``resend_requests``: a resend asked for on the Onboarding page, kept under a reference that the
trigger form names (the address never travels through Airflow)."""
from __future__ import annotations

import secrets
from typing import Any

from onboarding.times import iso, utcnow


class Resends:
    def __init__(self, store):
        self._s = store

    def add(self, cohort_id: str, email: str, kind: str, reason: str, requested_by: str | None) -> str:
        """Keep the request; returns its reference (``resend-`` and 16 random hex digits)."""
        reference = "resend-" + secrets.token_hex(8)
        self._s.execute("resend_request_insert", {"reference": reference, "cohort_id": cohort_id, "email": email,
                                                  "kind": kind, "reason": reason, "requested_by": requested_by,
                                                  "now": iso(utcnow())})
        return reference

    def get(self, reference: str) -> dict[str, Any] | None:
        found = self._s.rows("resend_request_get", reference=reference)
        return found[0] if found else None
