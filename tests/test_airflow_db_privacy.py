"""Erasure reaches Airflow's own database (README, "Privacy and deliverability"): after nights in
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
    assert r["audit"] == [{"requested_by": "lena.approver", "scope": "*"}]
    assert r["logged_lines"] > 500  # the nights' task logs were searched, not an empty file
    assert r["metadata_db_hits"] == {}, r["metadata_db_hits"]
    assert r["log_file_hits"] == {} and r["logged_hits"] == 0
    assert r["state_db_hits"] == 0
