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
        kept = [tx.suppressions.add(a, "manual", "onboarding page", scope, added_by=by, note=note) for a in wanted]
        for a in kept:
            if a:
                tx.suppressions.log_change(a, scope, "stopped", "manual", by, note)
        return kept


# Why an entry other than a manual "do not email" stays when her emails are restarted.
_NOT_LIFTED = {
    "hard_bounce": "her address bounced hard (it does not exist): ask her for another address",
    "complaint": "she reported an email as spam: only she can ask to hear from the course again",
    "unsubscribed": "she unsubscribed herself (from optional emails only): only she can undo it",
    "erased": "she was erased on request",
}


def restart(store: Store, found: CohortFile, address: str, cohort: str | None, note: str | None, by: str) -> dict[str, Any]:
    """Lift a manual "do not email" for one person (in one cohort, or every cohort), so that the
    next run may email her again. Only a manual entry is lifted; a bounce, a complaint or an
    unsubscribe is hers, not the instructor's, and is refused with its reason (never undone
    silently), as is a stop kept for every cohort when one cohort is named."""
    from onboarding.addresses import is_plain_address, normalised

    email = normalised(address)
    if not is_plain_address(email):
        raise ParamsError("address: not an email address")
    scope = _scope(found, cohort)
    with store.transaction() as tx:
        entries = tx.suppressions.of_address(email, scope)
        others = [e for e in entries if e.reason != "manual"]
        if others:
            e = others[0]
            whose = f"the domain {e.address[1:]}" if e.address.startswith("@") else "her address"
            raise ParamsError(f"not restarted: {whose} is suppressed ({e.reason.replace('_', ' ')}, from {e.source}): "
                              + _NOT_LIFTED.get(e.reason, "only a manual stop can be lifted here"))
        if any(e.address.startswith("@") for e in entries):
            raise ParamsError("not restarted: her whole domain is stopped (a do-not-email for @"
                              f"{email.rpartition('@')[2]}); lift it with the suppression command")
        if scope != "*" and any(e.cohort_id == "*" for e in entries):
            raise ParamsError("not restarted: her emails are stopped for every cohort; restart them for every cohort")
        if not entries:
            raise ParamsError("not restarted: her emails are not stopped")
        for e in entries:
            tx.suppressions.remove(e.address, e.cohort_id)
            tx.suppressions.log_change(email, e.cohort_id, "restarted", e.reason, by, note)
    return {"restarted": email, "cohort": scope, "lifted": [e.cohort_id for e in entries]}


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
