"""No secret reaches a log (issue 21, point 9): a night whose Gmail token refresh is refused with
an error text echoing the client secret and refresh token, through the real DAG (``dag.test()``):
neither appears in any log line the night writes, tracebacks included, nor in its task log files."""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fake_google import FakeGoogle
from helpers import world_clock

ROOT = Path(__file__).resolve().parents[1]
SYD = ZoneInfo("Australia/Sydney")
# Shaped like nothing the redaction patterns know: only registering them can mask them.
SECRET, REFRESH = "plain-client-s3cr3t-4711", "plain-refresh-t0ken-0815"
_RUNS = itertools.count()


@pytest.fixture
def fake_google():
    server = FakeGoogle(seed=7, client_secret=SECRET, refresh_token=REFRESH).start()
    yield server
    server.stop()


def run_night(night: dt.date, **conf):
    from airflow.dag_processing.dagbag import DagBag

    os.environ["ONBOARDING_RETRY_DELAY_SECONDS"] = "0"
    os.environ["ONBOARDING_TASK_RETRIES"] = "1"
    try:
        dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    finally:
        os.environ.pop("ONBOARDING_RETRY_DELAY_SECONDS", None)
        os.environ.pop("ONBOARDING_TASK_RETRIES", None)
    conf = {"cohort": "all", "as_of": None, "dry_run": False, "release_guards": None,
            "kinds": ["reminder", "cancellation", "welcome"], "resend_customer": None, "resend_kind": None,
            "resend_reason": None, "erase": None, "erase_reason": None, **conf}
    moment = dt.datetime.combine(night, dt.time(6), SYD)
    asked = moment + dt.timedelta(seconds=next(_RUNS))
    with world_clock(asked.isoformat()):
        dr = dag.test(logical_date=moment, run_after=asked, run_conf=conf)
    return str(getattr(dr.state, "value", dr.state)), dr.run_id


@pytest.mark.dagrun
def test_a_refused_token_refresh_echoing_the_secrets_leaves_no_secret_in_any_log(
        airflow_db, airflow_env, fake_google, monkeypatch, capfd, caplog):
    fake_google.token_fault = "echo"
    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")  # the alert's send fails too
    caplog.set_level(logging.DEBUG)
    started = dt.datetime.now().timestamp()
    state, run_id = run_night(dt.date(2026, 12, 2), cohort="ux-2026-12")
    assert state == "failed"  # nothing could be sent: the account's token is refused
    assert fake_google.token_requests > 0
    out, err = capfd.readouterr()
    records = "\n".join(logging.Formatter("%(message)s").format(r) + "\n" + (r.exc_text or "")
                        for r in caplog.records)
    files = "".join(p.read_text(errors="replace") for p in Path(os.environ["AIRFLOW_HOME"], "logs").rglob("*")
                    if p.is_file() and p.stat().st_mtime >= started)
    everything = "\n".join((out, err, records, files))
    # The night did log the refusal (so the check below reads the lines that would carry them).
    assert "invalid_grant" in everything and "RefreshError" in everything and "failure alert not sent" in everything
    leaks = [line for line in everything.splitlines() if SECRET in line or REFRESH in line]
    assert leaks == [], f"{len(leaks)} line(s) carry a secret:\n" + "\n".join(leaks[:20])
    assert "[REDACTED]" in everything
    # Airflow's own masker knows them too, for log lines the pipeline does not write.
    from airflow.sdk._shared.secrets_masker import redact

    assert redact(f"echoed {SECRET} and {REFRESH}") == "echoed *** and ***"


@pytest.mark.parametrize("text,kept", [
    ("/srv/exports/passwd: completions export not found", "/srv/exports/passwd: completions export not found"),
    ("sql:website_db/../../etc/passwd: query file not found under include/sql/", None),
    (r"C:\exports\password: signups export not found", None),
    ("open /srv/mypasswd: permission denied", None),
    ("db password: hunter2hunter", "db password: [REDACTED]"),
    ('{"client_secret": "abcdef123"} db_password=abcdef123', '{"client_secret": "[REDACTED]"} db_password=[REDACTED]'),
])
def test_redaction_masks_secrets_not_the_word_after_a_file_named_passwd(text, kept):
    """A file named passwd in a not-found message keeps its next word; a key named so still hides
    its value."""
    from onboarding.redaction import redact

    assert redact(text) == (kept or text)


def test_an_exception_leaves_a_task_with_its_secrets_masked():
    from onboarding import redaction

    secret = "-".join(("bare", "s3cret", "value"))  # not in this file's text, which a traceback quotes
    redaction.register(secret)
    try:
        try:
            raise KeyError({"answer": f"token refused: {secret}"})
        except KeyError as inner:
            raise RuntimeError("refresh failed", f"body {secret}".encode()) from inner
    except RuntimeError as exc:
        redaction.scrub_exception(exc)
        import traceback

        text = "".join(traceback.format_exception(exc))
    assert secret not in text and text.count("[REDACTED]") == 2


@pytest.mark.parametrize("text", [
    "550 5.1.1 <ann.o'brien@example.com>: no such user",
    "failed for 'a_b%c|d/e@x.io' (quota)",
    "{'to': \"bob@example.com\", 'cc': ['eve@example.com']}",
    "fullwidth ann＠example.com here",
    "Re: [erase] request from Ann Lee <ann.lee@example.com>; also ann@example.com,bob@x.io",
])
def test_the_task_log_mask_and_the_erasure_reason_mask_leave_the_same_no_address(text):
    """One pattern finds addresses for both masks: neither leaves an '@' word the other would catch."""
    from onboarding.addresses import without_addresses
    from onboarding.redaction import without_people

    logged, kept = without_addresses(text), without_people(text)
    for masked in (logged, kept):
        assert "@" not in masked and "\uff20" not in masked
    assert logged.replace("<address>", "[address]") == kept
