"""An erasure in Airflow's own metadata database: the one place the pipeline's data about a
customer reaches it is the journey's approval requests (docs/privacy.md).

A request (Airflow's human-in-the-loop task) lists each waiting customer as "Name <address>": in
its options, its body's table, the approver's answer (the ticked options, one ``address: reason``
line per rejection) and the audit log entry Airflow writes for that answer (``log.extra``). An
erasure removes the person from each: their option, table row and answer lines go, the others on
the request stay as they are; their name, where it stands alone, reads ``[erased]``.

This needs Airflow's database session, which the api-server (the Onboarding page's erasure) and a
machine with Airflow's configuration (``python -m onboarding.ops.erase``) have; a task does not.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

ERASED = "[erased]"
_UNESCAPE = re.compile(r"\\(.)")


def _patterns(address: str, names: Iterable[str]) -> tuple[re.Pattern, list[re.Pattern]]:
    from onboarding.pipeline.erasure import address_pattern

    # A name followed by "<" or "&lt;" is someone's entry in a listing: another customer of the
    # same name, whose line stays (the person's own entry goes with their address).
    named = [re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, n.split())) + r"(?!\w)(?!\s*(?:<|&lt;))",
                        re.IGNORECASE) for n in names if n and n.split()]
    return address_pattern(address), named


def without_person(value: Any, address: re.Pattern, names: list[re.Pattern]) -> Any:
    """``value`` (text, or JSON data) without the person: list items and lines naming their
    address go, their name elsewhere reads ``[erased]``."""
    if isinstance(value, dict):
        return {k: without_person(v, address, names) for k, v in value.items()}
    if isinstance(value, list):
        return [without_person(v, address, names) for v in value if not (isinstance(v, str) and address.search(v))]
    if isinstance(value, str):
        # A request's table escapes every Markdown-active character ("ann\\@x\\.org"): a line is
        # hers when it names her address either way.
        text = "".join(line for line in value.splitlines(keepends=True)
                       if not address.search(line) and not address.search(_UNESCAPE.sub(r"\1", line)))
        text = address.sub(ERASED, text)
        for n in names:
            text = n.sub(ERASED, text)
        return text
    return value


def _json_text(text: str | None, address: re.Pattern, names: list[re.Pattern]) -> str | None:
    if text is None:
        return None
    try:
        return json.dumps(without_person(json.loads(text), address, names))
    except ValueError:
        return without_person(text, address, names)


# Every column that may name a person: the texts, the answer, and who may answer or answered (a
# team's request is assigned to its members by the logins Airflow knows them by, their addresses).
HITL_COLUMNS = ("subject", "body", "options", "defaults", "chosen_options", "params_input", "assignees", "responded_by")


def erase_person(address: str, names: Iterable[str], scope: str) -> dict[str, int]:
    """Remove the person from the approval requests of cohort ``scope`` ('*': every cohort) in
    Airflow's metadata database, and from the audit log entries of their answers. Returns how
    many rows of each were rewritten."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.log import Log
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    token, named = _patterns(address, names)
    counts = {"approval_requests": 0, "audit_log_entries": 0, "task_labels": 0, "xcoms": 0}

    def mentions(*values: Any) -> bool:
        text = json.dumps(values, default=str)
        return bool(token.search(text) or any(n.search(text) for n in named))

    with create_session() as session:
        answered: set[tuple[str, str, str]] = set()
        for detail, ti in session.query(HITLDetail, TaskInstance).join(TaskInstance, HITLDetail.ti_id == TaskInstance.id):
            if scope != "*" and not str(detail.subject).startswith(f"{scope}:"):
                continue
            answered.add((ti.dag_id, ti.run_id, ti.task_id))
            values = [getattr(detail, c) for c in HITL_COLUMNS]
            if not mentions(*values):
                continue
            for column, value in zip(HITL_COLUMNS, values):
                if value is not None:
                    setattr(detail, column, without_person(value, token, named))
            counts["approval_requests"] += 1
        for entry in session.query(Log).filter(Log.extra.isnot(None) | Log.owner.isnot(None)):
            if scope != "*" and (entry.dag_id, entry.run_id, entry.task_id) not in answered:
                continue
            changed = False
            if entry.extra is not None and mentions(entry.extra):
                entry.extra, changed = _json_text(entry.extra, token, named), True
            # Who acted: a team's member logs in by her address, so the entry's owner is her.
            for column in ("owner", "owner_display_name"):
                value = getattr(entry, column)
                if value is not None and mentions(value):
                    setattr(entry, column, without_person(value, token, named))
                    changed = True
            counts["audit_log_entries"] += changed
        counts["task_labels"], counts["xcoms"] = _scrub_task_records(session, scope, token, named, mentions)
    return counts


DAGS = ("onboarding_nightly", "onboarding_approvals")


def _scrub_task_records(session: Any, scope: str, token: re.Pattern, named: list[re.Pattern],
                        mentions: Any) -> tuple[int, int]:
    """The grid's labels (``rendered_map_index``) and the XComs of the onboarding Dags: today they
    name a request's approver by a pseudonym, but runs from before that named a CSM by her address."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    labels = xcoms = 0
    for ti in session.query(TaskInstance).filter(TaskInstance.dag_id.in_(DAGS),
                                                TaskInstance._rendered_map_index.isnot(None)):
        label = ti._rendered_map_index
        if (scope == "*" or label.startswith(f"{scope} ")) and mentions(label):
            ti._rendered_map_index = without_person(label, token, named)
            labels += 1
    for x in session.query(XComModel).filter(XComModel.dag_id.in_(DAGS)):
        value = x.value
        if (scope == "*" or scope in json.dumps(value, default=str)) and mentions(value):
            x.value = _json_text(value, token, named) if isinstance(value, str) else without_person(value, token, named)
            xcoms += 1
    return labels, xcoms
