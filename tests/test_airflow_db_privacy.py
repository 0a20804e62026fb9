"""Erasure reaches Airflow's own database (docs/privacy.md): after nights in
which a journey customer was emailed, listed on an approval request the approver answered and
sent an email again (asked for on the Onboarding page, named by reference in the trigger form),
she is erased through the Onboarding page's API; then every column of every table of Airflow's
metadata database, and everything the nights logged, is searched for her address, its local part
and her name: nothing. On SQLite and on PostgreSQL, each in a fresh Airflow home of its own
(``privacy_trial.py``, in a subprocess: the tests' shared Airflow database holds other tests' nights)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _postgres_database

pytestmark = pytest.mark.dagrun
TRIAL = Path(__file__).with_name("privacy_trial.py")


def _trial(tmp_path: Path, fake_google, db_url: str = "") -> dict:
    out = tmp_path / "output.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ONBOARDING_"))}
    with open(out, "w") as fh:
        proc = subprocess.run([sys.executable, str(TRIAL), str(tmp_path), json.dumps(fake_google.gmail_extra()),
                               db_url], stdout=fh, stderr=subprocess.STDOUT, timeout=900,
                              env={**env, "PRIVACY_TRIAL_OUTPUT": str(out),
                                   "ONBOARDING_SIMULATED_NOW": os.environ["ONBOARDING_SIMULATED_NOW"]})
    assert proc.returncode == 0, out.read_text()[-5000:]
    return json.loads((tmp_path / "result.json").read_text())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def metadata_db(request):
    if request.param == "sqlite":
        yield ""
        return
    gen = _postgres_database()
    url = next(gen)
    yield url
    next(gen, None)


def test_an_erased_customer_leaves_no_trace_in_airflows_database_or_logs(tmp_path, fake_google, metadata_db):
    r = _trial(tmp_path, fake_google, metadata_db)
    assert r["metadata_db"] == ("postgresql" if metadata_db else "sqlite")
    assert r["nights"] == ["success", "success", "success"] and r["resend_night"] == "success"
    assert r["approvals_answered"] >= 3  # she was on night 1's request, answered through the REST API
    assert r["viewer_erase_status"] == 403  # a Viewer may read the page, not erase anyone
    assert r["erasure"]["scope"] == "*"
    assert r["erasure"]["approval_requests_scrubbed"]["approval_requests"] >= 1
    assert r["erasure"]["approval_requests_scrubbed"]["audit_log_entries"] >= 1  # the answer's audit row
    # She left the requests she was on; everyone else on them stayed (options, table rows, answers).
    assert r["requests_after_vs_before"] and all(tuple(a) == tuple(b) for a, b in r["requests_after_vs_before"])
    assert r["audit"] == [{"requested_by": "lena.approver", "scope": "*"}]
    assert r["logged_lines"] > 500  # the nights' task logs were searched, not an empty file
    assert r["metadata_db_hits"] == {}, r["metadata_db_hits"]
    assert r["log_file_hits"] == {} and r["logged_hits"] == 0
    assert r["state_db_hits"] == 0


def test_the_person_leaves_a_shared_request_and_the_others_stay():
    """``airflow_db.without_person`` on an approval request's stored values: her option, table row,
    ticked option and rejection line go; a namesake (another address) and everyone else stay; her
    name alone in free text reads [erased]."""
    from onboarding.airflow_db import _patterns, without_person

    token, names = _patterns("ann@x.org", ["Ann  Lee"])
    options = ["Ann Lee <ann@x.org>", "Ann Lee <ann.lee@y.org>", "Bob Roe <bob@x.org>", "(approve nobody tonight)"]
    body = ("2 wait.\n\n| customer | submitted |\n|---|---|\n| Ann Lee &lt;ann@x.org&gt; | Tue |\n"
            "| Ann Lee &lt;ann.lee@y.org&gt; | Wed |\n| Bob Roe &lt;bob@x.org&gt; | Thu |")
    answer = {"reject": "ann@x.org: no team size\nbob@x.org: ask Ann Lee's manager\njoann@x.org: typo"}
    assert without_person(options, token, names) == options[1:]
    assert without_person(body, token, names) == body.replace("| Ann Lee &lt;ann@x.org&gt; | Tue |\n", "")
    assert without_person(answer, token, names) == {"reject": "bob@x.org: ask [erased]'s manager\njoann@x.org: typo"}
    assert without_person(["Ann Lee <ANN@X.ORG>", "Bob Roe <bob@x.org>"], token, names) == ["Bob Roe <bob@x.org>"]
    assert without_person({"n": 3, "ok": True, "when": None}, token, names) == {"n": 3, "ok": True, "when": None}
