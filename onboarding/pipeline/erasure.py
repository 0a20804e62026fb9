"""Erasure: forget one person, on request, from one cohort or from everything.

What goes: every state-database row holding their address (signups, completions, quarantine,
standings, decisions, ledger and its events, mailbox messages, suppression entries) and the
address wherever a stored text quotes it; their rows in every run folder's input snapshots (each
rewritten, its manifest noting the rewrite and the run's recorded sha256 updated, so a replay of
the run still checks and decides the same for everyone else); their lines in the reports (CSV
tables, summaries, validation results, Data Docs) and every local outbox copy of an email to
them; the instructor's Google Sheet is rewritten from the state database. What stays: an audit
record with a salted hash of the address, and a suppression entry under the same hash, so a
later export naming them is recognised, their rows left out of its snapshot, and they are never
emailed again.

Staff (a CSM, a cohort's instructor): their own rows go as anyone's, but the customers' rows and
report lines that name them are the customers': kept, with the address and names read
``[erased]``; the customers placed with a CSM go back to waiting for one (docs/privacy.md, "Erasing staff").

Erasing from one cohort leaves what is kept for every cohort (a suppression entry for all cohorts,
such as a hard bounce's, and mailbox records tied to no cohort): erase from everything for those.

Copies outside the project are not reachable from here: mail in the sending account's Sent
folder (Gmail keeps it), the Airflow task logs (kept by Airflow's own log retention) and the
instructor's own downloads.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import re
import uuid
from typing import Any, Callable

from onboarding import storage
from onboarding.addresses import normalised
from onboarding.cohorts import EXPORT_ROLES, Cohort
from onboarding.consent import ERASED_PREFIX, hashed_address
from onboarding.sources.snapshot import Snapshot, csv_without_rows, without_rows
from onboarding.store import Store
from onboarding.times import iso

log = logging.getLogger(__name__)

# Files of a run folder rewritten line by line (a line quoting the person goes); JSON is rewritten
# as data; an email file quoting them is deleted. Anything else is left as it is (charts, assets).
TEXT_SUFFIXES = (".txt", ".html", ".htm", ".md", ".log")


# What may stand just before an address inside a longer one (RFC 5322's atext and the dot):
# ``ann@x.org`` is not in ``jo!ann@x.org``. Left out: '=', '/', '?', '&' and '#', which part a
# key or a URL from an address (``to=ann@x.org``) far more often than they are part of one, and
# the quote, which counts only when it opens a quoted address ('ann@x.org'), not o'ann@x.org.
_BEFORE = r"[\w.+!$%*^`{|}~'-]"


def address_pattern(address: str) -> re.Pattern:
    """The address as a whole token (``ann@x.org`` and not ``joann@x.org``), in any case."""
    text = re.escape(address)
    return re.compile(rf"(?:(?<!{_BEFORE})|(?<=')(?={text}'))" + text + r"(?![\w-]|\.\w)", re.IGNORECASE)


def normalise_address(address: str) -> str:
    text = normalised(address)
    local, _, domain = text.rpartition("@")
    if not local or "." not in domain or any(c.isspace() or c in "<>,;\"'" for c in text):
        raise ValueError(f"{address!r} is not an email address; erasure names one person's address")
    return text


def erase(store: Store, address: str, scope: str, cohorts: dict[str, Cohort], runs_base: str,
          outboxes: list[str], requested_by: str | None, reason: str | None,
          sheets: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Erase ``address`` from cohort ``scope`` (or '*': everything); returns what was erased, by
    kind, with the erasure's id and the hash kept (never the address)."""
    address = normalise_address(address)
    if scope != "*" and scope not in cohorts:
        raise ValueError(f"no cohort {scope!r} in the cohort file; erase from one of {sorted(cohorts)} or all")
    erasure_id = "erasure-" + uuid.uuid4().hex[:12]
    staff = staff_names(store, address, scope, cohorts)
    token = address_pattern(address) if staff is None else staff_pattern(address, staff)
    now = dt.datetime.now(dt.timezone.utc)
    note = {"erasure": erasure_id, "at": iso(now)}
    runs = store.erasures.runs(scope)
    # Files first: a crash half-way leaves the rows that say who to erase, and the command can be
    # run again; the database rows go last, in one transaction.
    files = _erase_files(store, runs, runs_base, token, note, keep_lines=staff is not None)
    files["outbox_emails_deleted"] = sum(_erase_outbox(o, scope, address, token) for o in outboxes)
    with store.transaction() as tx:
        # Before their rows go: the reason is kept without them.
        names = sorted(set(tx.erasures.names(address, scope)) | set(staff or ()))
        rows = tx.erasures.delete_person(address, scope, lambda text: scrub_text(text, token),
                                         lambda text: scrub_text(without_lines(text, token), token),
                                         placeholder=f"[erased {erasure_id}]")
        for name in staff or ():  # texts naming a CSM without her address (a digest's line in a run record)
            tx.erasures.rewrite_texts(name, scope, lambda text: scrub_text(text, token), rows)
        digest = tx.erasures.suppress(address, scope, requested_by, erasure_id)
        counts = {"rows": rows, **files}
        tx.erasures.record(erasure_id, digest, scope, requested_by, reason, counts, names)
    counts["sheets_rewritten"] = _rewrite_sheets(store, runs, cohorts, scope, sheets)
    log.info("erasure %s (%s): %s", erasure_id, "every cohort" if scope == "*" else f"cohort {scope}", counts)
    return {"erasure_id": erasure_id, "hash": digest, "scope": scope, **counts}


def staff_names(store: Store, address: str, scope: str, cohorts: dict[str, Cohort]) -> list[str] | None:
    """The names of a staff member (a CSM of a journey file or a roster export, a member of a
    journey's team, a cohort's instructor) in ``scope``, or None when the address is no one's staff. Her erasure takes her
    out of the customers' rows and reports rather than deleting them: they are the customers'."""
    found = store.erasures.staff_names(address, scope)
    names, listed = set(found or ()), False
    for cohort in cohorts.values():
        if scope != "*" and cohort.id != scope:
            continue
        listed = listed or (cohort.instructor or "").lower() == address
        for csm in (cohort.journey_spec.csms if cohort.journey_spec else ()):
            if csm.email.lower() == address:
                names.add(csm.name)
                listed = True
        # A team's member: named by her address only (the journey file gives her no name).
        listed = listed or any(address in (a.lower() for a in team.addresses)
                               for team in (cohort.journey_spec.teams if cohort.journey_spec else ()))
    return sorted(n for n in names if n.strip()) if found is not None or listed else None


def staff_pattern(address: str, names: list[str]) -> re.Pattern:
    """Her address as a whole token, or any of her names as whole words, in any case."""
    parts = [address_pattern(address).pattern] + [rf"(?<!\w){re.escape(n.strip())}(?!\w)" for n in names
                                                   if len(n.strip()) >= 3]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)


def erased_matcher(store: Store, cohort_id: str) -> Callable[[str], bool] | None:
    """A test of one cell: is it the address of someone erased (from this cohort or all)? None
    when nobody was."""
    hashes = {e.address for e in store.suppressions.for_cohort(cohort_id) if e.reason == "erased"
              and e.address.startswith(ERASED_PREFIX)}
    if not hashes:
        return None
    salt = store.erasures.salt()
    return lambda cell: "@" in cell and hashed_address(salt, cell) in hashes


def leave_out_erased(store: Store, cohort_id: str, inputs: dict[str, dict]) -> tuple[dict[str, dict], int]:
    """A new run's snapshots without the rows of people erased earlier (a later export still
    naming them): each copy rewritten, its manifest noting it. Returns the manifests and rows left out."""
    matcher = erased_matcher(store, cohort_id)
    if matcher is None:
        return inputs, 0
    total = 0
    out = dict(inputs)
    for role in EXPORT_ROLES:
        if role in inputs:
            snap, n = without_rows(Snapshot(**inputs[role]), matcher,
                                   {"erasure": "earlier erasures", "at": iso(dt.datetime.now(dt.timezone.utc))})
            out[role], total = snap.to_dict(), total + n
    return out, total


def without_staff(value: Any, matcher: Callable[[str], bool] | None) -> Any:
    """A run's record of its cohort's configuration (``cohorts.fingerprint``) without the people
    erased (its instructor, a CSM of its journey file): their address, and each text of an entry
    whose ``email`` is theirs (a CSM's name), read ``[erased]``; the configuration keeps its shape."""
    if matcher is None:
        return value
    if isinstance(value, dict):
        if isinstance(value.get("email"), str) and matcher(value["email"]):  # a person's entry (a CSM)
            return {k: "[erased]" if isinstance(v, str) else v for k, v in value.items()}
        return {k: without_staff(v, matcher) for k, v in value.items()}
    if isinstance(value, list):
        return [without_staff(v, matcher) for v in value]
    return "[erased]" if isinstance(value, str) and matcher(value) else value


def recorded_fingerprint(store: Store, cohort: Cohort) -> dict:
    """The cohort's configuration as a run records it: without anyone erased from it."""
    from onboarding.cohorts import fingerprint

    return without_staff(fingerprint(cohort), erased_matcher(store, cohort.id))


def scrub_text(text: str, token: re.Pattern) -> str:
    """A stored text without the address (it reads ``[erased]`` where the address was)."""
    return token.sub("[erased]", text)


def without_lines(text: str, token: re.Pattern) -> str:
    """A text without its lines that name the person (a table's row goes whole, their name with it)."""
    return "".join(line for line in text.splitlines(keepends=True) if not (token.search(line) and len(line) < 4000))


# --- run folders -----------------------------------------------------------------------------------
def _erase_files(store: Store, runs: list[dict[str, Any]], runs_base: str, token: re.Pattern,
                 note: dict, keep_lines: bool = False) -> dict[str, int]:
    from onboarding.run import run_slug

    counts = {"snapshots_rewritten": 0, "snapshot_rows_removed": 0, "report_files_rewritten": 0,
              "files_deleted": 0}
    base = storage.location(runs_base)
    for run in runs:
        inputs = json.loads(run["inputs"] or "{}")
        changed = False
        for role in EXPORT_ROLES:
            if role not in inputs:
                continue
            try:
                snap, n = without_rows(Snapshot(**inputs[role]), lambda cell: bool(token.search(cell)), note)
            except FileNotFoundError:  # a folder past its retention is gone already
                continue
            if n:
                inputs[role], changed = snap.to_dict(), True
                counts["snapshots_rewritten"] += 1
                counts["snapshot_rows_removed"] += n
        if "cohort" in inputs:  # the configuration the run used: her entry in it (instructor, CSM)
            cleaned = without_staff(inputs["cohort"], lambda cell: bool(token.search(cell)))
            changed = changed or cleaned != inputs["cohort"]
            inputs["cohort"] = cleaned
        if changed:
            store.erasures.set_inputs(run["run_id"], run["cohort_id"], inputs)
        folder = base / run["cohort_id"] / run_slug(run["run_id"])
        for path in _files(folder):
            if path.parent.name == "inputs" and path.name.split(".")[0] in EXPORT_ROLES:
                continue  # the snapshots and their manifests: done above
            outcome = _erase_file(path, token, keep_lines)
            if outcome:
                counts[outcome] += 1
    return counts


def _files(folder: Any) -> list[Any]:
    try:
        return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    except (FileNotFoundError, NotADirectoryError):
        return []


def _erase_file(path: Any, token: re.Pattern, keep_lines: bool = False) -> str | None:
    """Rewrite (or delete) one report file that quotes the person; which, or None if it did not.
    ``keep_lines`` (staff): a line or row naming her is a customer's, kept with her replaced."""
    name = path.name.lower()
    data = path.read_bytes()
    if name.endswith(".eml"):
        if token.search(_email_text(data)):
            _writable(path)
            path.unlink()
            return "files_deleted"
        return None
    text = data.decode("utf-8", "surrogateescape")
    if not token.search(text):
        return None
    if keep_lines:
        new = scrub_text(text, token)
    elif name.endswith(".csv"):
        new = csv_without_rows(data, lambda cell: bool(token.search(cell)))[0].decode("utf-8", "surrogateescape")
    elif name.endswith(".json"):
        try:
            new = json.dumps(_without(json.loads(text), token), indent=1)
        except ValueError:
            new = scrub_text(text, token)
    elif name.endswith(TEXT_SUFFIXES):
        # A line naming them (a summary's list item, a table row) goes whole, their name with it.
        new = scrub_text(without_lines(text, token), token)
    else:
        new = scrub_text(text, token)
    _writable(path)
    path.write_bytes(new.encode("utf-8", "surrogateescape"))
    return "report_files_rewritten"


def _without(value: Any, token: re.Pattern) -> Any:
    """JSON data without the strings quoting the person (list items go; object values read ``[erased]``)."""
    if isinstance(value, dict):
        return {k: _without(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, token) for v in value
                if not (isinstance(v, str) and token.search(v))
                and not (isinstance(v, (list, dict)) and _mentions(v, token) and _is_record(v))]
    if isinstance(value, str):
        return scrub_text(value, token)
    return value


def _mentions(value: Any, token: re.Pattern) -> bool:
    return bool(token.search(json.dumps(value)))


def _is_record(value: Any) -> bool:
    """A row of data (a list of cells, or a flat object): dropped whole when it names the person."""
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(v, (list, dict)) for v in items)


def _email_text(data: bytes) -> str:
    """Everything an email file says, decoded (quoted-printable or base64 would hide an address
    from a plain search)."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    parts = [str(v) for v in msg.values()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                parts.append(part.get_content())
            except (LookupError, UnicodeError):
                parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return "\n".join(parts)


def _writable(path: Any) -> None:
    if storage.is_local(path):
        path.chmod(0o644)


def _erase_outbox(outbox: str | None, scope: str, address: str, token: re.Pattern) -> int:
    """The local outbox's copies of emails to them (sent and drafts)."""
    if not outbox:
        return 0
    root = storage.location(outbox)
    n = 0
    for path in _files(root):
        parts = path.relative_to(root).parts if storage.is_local(path) else str(path).split("/")
        if scope != "*" and scope not in parts and ".inbox" not in parts:
            continue
        # <recipient>.<ref>.eml: the recipient is the name up to the reference, compared whole
        # (``ann@x.org.uk.onb-1.eml`` is not ann@x.org's).
        if path.name.endswith(".eml") and (path.name[:-4].rpartition(".")[0].lower() == address
                                           or token.search(_email_text(path.read_bytes()))):
            path.unlink()
            n += 1
    return n


def _rewrite_sheets(store: Store, runs: list[dict[str, Any]], cohorts: dict[str, Cohort], scope: str,
                    sheets: Callable[[str], Any] | None) -> int:
    """Her Google Sheet, rewritten from the state database as of each cohort's last run."""
    from onboarding.reporting import sheet

    last: dict[str, str] = {}
    for r in runs:
        last[r["cohort_id"]] = r["run_id"]
    n = 0
    for cohort_id, run_id in last.items():
        cohort = cohorts.get(cohort_id)
        if cohort is None or not cohort.instructor_sheet or sheets is None:
            continue
        client = sheets(cohort.instructor_sheet["connection"])
        sheet.write_sheet(client, cohort.instructor_sheet["spreadsheet"], cohort.id, sheet.build(store, cohort, run_id))
        n += 1
    return n
