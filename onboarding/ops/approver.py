"""An approver answering the journey's approval requests through Airflow's REST API, as a person
(or their script) would: list the requests waiting for an answer (``GET .../hitlDetails``), read
each one's table, tick whom to approve and write a reason for whom to reject (``PATCH`` with
``chosen_options`` and ``params_input.reject``). The demo answers the sample's requests with it;
the journey DAG test too. The requests wait in runs of the ``onboarding_approvals`` Dag, which
the nightly run triggers and does not wait for; ``run_approvals`` runs one under ``dag.test()``
(where no scheduler would)."""
from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable

ROW = re.compile(r"^\| (?P<who>.+?) &lt;(?P<email>[^&]+)&gt; \| [^|]* \| (?P<score>[^|]*) \| (?P<link>[^|]*) \|$",
                 re.M)


def waiting_rows(body: str) -> list[dict[str, str]]:
    """The customers a request lists: email, score, evidence link (as the approver reads them)."""
    out = []
    for m in ROW.finditer(body):
        link = re.search(r"\((https://[^)]+)\)", m["link"])
        out.append({"email": m["email"], "score": m["score"].strip(), "link": link.group(1) if link else ""})
    return out


def sample_policy(request: dict[str, Any]) -> tuple[list[str], str]:
    """How the sample's approver decides: details sent incomplete (``complete=no`` in the form's
    link) are rejected with a reason; everyone else listed is approved."""
    rows = {r["email"]: r for r in waiting_rows(request["body"])}
    chosen, rejects = [], []
    for option in request["options"]:
        if "<" not in option:  # "(approve nobody tonight)"
            continue
        email = option.rsplit("<", 1)[1].rstrip(">")
        if "complete=no" in rows.get(email, {}).get("link", ""):
            rejects.append(f"{email}: the team size and the company name are missing")
        else:
            chosen.append(option)
    # The API (and the form) take at least one option: "(approve nobody tonight)" decides nothing.
    return chosen or [o for o in request["options"] if "<" not in o][:1], "\n".join(rejects)


class Approver:
    """Answers every pending request of ``dag_id`` through the API client (``client`` with
    ``headers``), by ``policy``, on a background thread while ``dag.test()`` runs."""

    def __init__(self, client: Any, headers: dict[str, str], dag_id: str = "onboarding_approvals",
                 policy: Callable[[dict[str, Any]], tuple[list[str], str]] = sample_policy):
        self.client, self.headers, self.dag_id, self.policy = client, headers, dag_id, policy
        self.answered: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def pending(self) -> list[dict[str, Any]]:
        r = self.client.get(f"/api/v2/dags/{self.dag_id}/dagRuns/~/hitlDetails",
                            params={"response_received": False, "limit": 100}, headers=self.headers)
        r.raise_for_status()
        return [d for d in r.json()["hitl_details"] if d["task_instance"]["state"] == "awaiting_input"]

    def answer(self, detail: dict[str, Any]) -> None:
        ti = detail["task_instance"]
        chosen, reject = self.policy(detail)
        r = self.client.patch(
            f"/api/v2/dags/{self.dag_id}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/{ti['map_index']}"
            f"/hitlDetails", json={"chosen_options": chosen, "params_input": {"reject": reject}}, headers=self.headers)
        if r.status_code != 200:
            self.errors.append(f"{r.status_code}: {r.text}")
            return
        self.answered.append({"subject": detail["subject"], "chosen": chosen, "reject": reject,
                              "options": detail["options"]})

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for d in self.pending():
                    self.answer(d)
            except Exception as exc:  # noqa: BLE001 - reported by the test, not swallowed
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.5)

    def __enter__(self) -> "Approver":
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


def run_approvals(approvals_dag: Any, nightly_run_id: str) -> Any:
    """Run, with ``dag.test()``, the approvals run that the nightly run ``nightly_run_id``
    triggered (``None`` when it made no requests): the triggered run is only queued, and
    ``dag.test()`` replaces it (same date, same conf) with one it runs here, until every request is
    answered or closed. A night replayed again (the demo run twice, same run ids) finds its
    earlier approvals run in the trigger's place (the trigger skips: that date is taken); it is
    run again the same way."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == approvals_dag.dag_id).order_by(DagRun.id.desc()).all()
        asked = next((r for r in runs if (r.conf or {}).get("nightly_run_id") == nightly_run_id), None)
        if asked is None:
            return None
        when, after, conf = asked.logical_date, asked.run_after, dict(asked.conf or {})
    return approvals_dag.test(logical_date=when, run_after=after, run_conf=conf)
