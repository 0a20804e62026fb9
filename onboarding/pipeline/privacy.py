"""Requests about one person, asked for on the Onboarding page (its API) by a user allowed to run
the onboarding Dag: erase them, stop emailing them, send one of their emails again.

They are asked for there, not in the trigger form, because Airflow keeps a run's parameters (and
whatever a task renders, returns or logs) in its own database, where an erasure cannot reach: the
address goes to the state database only. Each request is audited with who asked: an erasure in
``erasures`` (with a salted hash, never the address), a suppression in ``suppressions.added_by``,
a resend in ``resend_requests`` and, when a run sends it, in the ledger with its reason.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from onboarding.cohorts import CohortFile
from onboarding.errors import ParamsError
from onboarding.store import Store


def _scope(found: CohortFile, cohort: str | None) -> str:
    """'*' for every cohort, else one cohort of the cohort file."""
    if cohort in (None, "", "all", "*"):
        return "*"
    if cohort not in found.cohorts:
        raise ParamsError(f"cohort: no cohort {cohort!r} in the cohort file")
    return cohort


def erase(store: Store, found: CohortFile, address: str, cohort: str | None, reason: str | None, by: str,
          runs_base: str, outboxes: list[str], sheets: Callable[[str], Any] | None,
          airflow: Callable[[str, list[str], str], dict[str, int]] | None) -> dict[str, Any]:
    """Erase one person now, from one cohort or every cohort (``onboarding.pipeline.erasure``), and
    from the approval requests in Airflow's database (``airflow``: ``onboarding.airflow_db.erase_person``)."""
    from onboarding.pipeline.erasure import erase as erase_person, normalise_address

    try:
        address = normalise_address(address)
    except ValueError:
        raise ParamsError("address: not an email address (an erasure names one person's address)") from None
    if not (reason or "").strip() or len(reason.strip()) < 5:
        raise ParamsError("reason: say why they are erased (kept in the audit record)")
    scope = _scope(found, cohort)
    # Read before their rows go. A first name alone would also match other customers' entries in a
    # shared request ("Ann" of "Ann Lee <...>"), so only the names she was listed under are taken.
    known = store.erasures.names(address, scope)
    names = [n for n in known if not any(o != n and o.lower().split()[:len(n.split())] == n.lower().split()
                                         for o in known)]
    result = erase_person(store, address, scope, found.cohorts, runs_base, outboxes, by, reason.strip(), sheets)
    result["approval_requests_scrubbed"] = airflow(address, names, scope) if airflow else None
    return result


def suppress(store: Store, found: CohortFile, addresses: str | list[str], cohort: str | None, note: str | None,
             by: str) -> list[str]:
    """Never email these addresses or @domains again (in one cohort or all); returns them as kept."""
    from onboarding.consent import normalise_suppression

    items = addresses if isinstance(addresses, list) else re.split(r"[,\s]+", addresses or "")
    try:
        wanted = list(dict.fromkeys(normalise_suppression(a) for a in items if a and a.strip()))
    except ValueError as exc:
        raise ParamsError(f"addresses: {exc}") from None
    if not wanted:
        raise ParamsError("addresses: name at least one address or @domain")
    scope = _scope(found, cohort)
    with store.transaction() as tx:
        return [tx.suppressions.add(a, "manual", "onboarding page", scope, added_by=by, note=note) for a in wanted]


def ask_resend(store: Store, found: CohortFile, cohort: str, address: str, kind: str, reason: str, by: str) -> str:
    """Keep a resend for a run of the cohort to send (the trigger form names it by the reference
    returned); whether the email may go is decided by that run, as for any resend."""
    from onboarding.run import resend

    if _scope(found, cohort) == "*":
        raise ParamsError("cohort: name the customer's cohort")
    asked = resend(address, kind, reason)
    spec = found.cohorts[cohort].journey_spec
    if ":" in asked.kind and spec is not None and asked.kind not in {f"{s.id}:{k}" for s, k in spec.email_kinds()}:
        raise ParamsError(f"kind: cohort {cohort}'s journey has no email {asked.kind!r}")
    return store.resends.add(cohort, asked.email, asked.kind, asked.reason, by)
