"""The Onboarding page (plugins/onboarding_ui.py) as Airflow's api-server serves it: every route's
content for the hand-worked cohort of ``analytics_cohort.py`` on SQLite and on PostgreSQL, and its
access rules (no session: 401; an invalid token or a user who may not read the Dag: 403; no
customer data in any refusal)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

import analytics_cohort
import ui_client

ROUTES = ["/onboarding/", "/onboarding/cohorts/c1", "/onboarding/cohorts/c1/customers/e@x.org",
          "/onboarding/compare", "/onboarding/api/cohorts", "/onboarding/api/cohorts/c1",
          "/onboarding/api/cohorts/c1/customers/e@x.org", "/onboarding/api/comparison",
          "/onboarding/cohorts/c1/runs/r1/docs/index.html", "/onboarding/guide/instructor/"]


@pytest.fixture
def ui(airflow_db, engine, monkeypatch, tmp_path):
    analytics_cohort.write(engine)
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", ui_client.state_connection(engine))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(tmp_path / "no-such-cohorts.yaml"))
    return ui_client.client()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_route_refuses_without_a_valid_airflow_login(ui):
    viewer = ui_client.bearer(ui_client.token(role="viewer"))
    nobody = ui_client.bearer(ui_client.token("guest", role=None))  # may not read the Dag
    for route in ROUTES:
        for headers, status in (({}, 401), (ui_client.bearer("not-a-jwt"), 403), (nobody, 403),
                                ({"Accept": "text/html"}, 401)):
            r = ui.get(route, headers=headers)
            assert r.status_code == status, (route, headers, r.status_code)
            assert "x.org" not in r.text, route  # no customer data in a refusal
        assert ui.get(route, headers=viewer).status_code in (200, 404), route
    # The UI's own session cookie works as the browser sends it.
    ui.cookies.set("_token", ui_client.token(role="viewer"))
    assert ui.get("/onboarding/api/cohorts").status_code == 200
    ui.cookies.clear()
    # A page asked for by a browser without a session says how to log in.
    page = ui.get("/onboarding/cohorts/c1", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "Log in to Airflow" in page.text


def test_the_cohorts_page_and_api(ui, engine):
    h = ui_client.bearer(ui_client.token())
    cohorts = {c["id"]: c for c in ui.get("/onboarding/api/cohorts", headers=h).json()}
    assert set(cohorts) == {"c1", "c2"}
    c1 = cohorts["c1"]
    assert (c1["last_run"], c1["last_status"]) == ("r2", "held")
    assert c1["standings"]["on_time"] == 3 and c1["standings"]["signed_up"] == 7
    assert [w["what"] for w in c1["waits"]] == ["held", "customers"]
    # An address that bounced hard waits on a person too (asking the customer for another).
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE email_ledger SET status = 'bounced', bounce = 'hard' WHERE recipient = 'e@x.org' "
                             "AND kind = 'reminder' AND cohort_id = 'c1'"))
    waits = {c["id"]: c for c in ui.get("/onboarding/api/cohorts", headers=h).json()}["c1"]["waits"]
    assert [w["what"] for w in waits] == ["held", "customers", "bounced"]
    assert waits[-1]["text"].startswith("1 customer(s) whose address does not exist")
    page = ui.get("/onboarding/", headers=h)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = _text(page.text)
    assert "held by a guard (nothing sent)" in text and "completions shrank by 40%" in text
    assert "/dags/onboarding_nightly/runs/r2" in page.text  # the run and its logs in Airflow


def test_the_cohort_page_funnel_stages_reminder_and_search(ui):
    h = ui_client.bearer(ui_client.token())
    api = ui.get("/onboarding/api/cohorts/c1", headers=h).json()
    assert {r["key"]: r["n"] for r in api["funnel_rows"]} == {
        "signed_up": 7, "reminded": 4, "on_time": 3, "completed_late": 1, "missed": 1, "pending": 1, "held": 1}
    (stage,) = api["stages"]
    assert (stage["median_days"], stage["p90_days"], stage["conversion_pct"]) == ("2.0 d", "5.0 d", "57%")
    assert api["reminder"]["lift_text"] == "1.75x" and api["total"] == 7
    page = ui.get("/onboarding/cohorts/c1", headers=h)
    assert page.status_code == 200
    assert page.text.count("<svg") == 2  # the funnel and completions-per-day charts
    text = _text(page.text)
    # One stage (the seed journey): nothing to call its bottleneck, and the page says why.
    assert api["bottleneck"] is None and 's-held">bottleneck' not in page.text
    assert "One stage: no other to compare it with, so no bottleneck is named." in text
    # Seven people (2 completions before the reminder, 1 after): the lift carries its caveat.
    assert "1.75x the rate before" in text
    assert api["reminder"]["lift_caveat"] == ("Few people, not a reliable figure: 2 completions in the 7 days before "
                                              "and 1 in the 48 hours after (fewer than 30 on either side).")
    assert api["reminder"]["lift_caveat"] in text  # shown beside the lift
    # Each customer's row names their emails: kind, state, why, and the provider's id.
    row = re.search(r'<tr data-email="e@x.org">(.*?)</tr>', page.text, re.S).group(1)
    assert sorted(re.findall(r'data-kind="(\w+)"', row)) == ["cancellation", "reminder"]
    assert "gm-e@x.org-cancellation" in row and row.count(" sent ") == 2
    found = ui.get("/onboarding/cohorts/c1", params={"q": "D@X"}, headers=h)
    rows = re.findall(r'data-email="([^"]+)"', found.text)
    assert rows == ["d@x.org"]
    assert ui.get("/onboarding/api/cohorts/c1", params={"q": "%"}, headers=h).json()["total"] == 0
    assert ui.get("/onboarding/cohorts/nope", headers=h).status_code == 404


def test_the_customer_page_answers_why_she_got_each_email(ui):
    h = ui_client.bearer(ui_client.token())
    p = ui.get("/onboarding/api/cohorts/c1/customers/e@x.org", headers=h).json()
    assert sorted((e["kind"], e["state"]) for e in p["emails"]) == [("cancellation", "sent"), ("reminder", "sent")]
    assert [n["run_id"] for n in p["nights"]] == ["r0", "r1", "r2"]
    page = ui.get("/onboarding/cohorts/c1/customers/E@x.org", headers=h)
    assert page.status_code == 200 and "gm-e@x.org-cancellation" in page.text  # the provider's id
    assert ui.get("/onboarding/cohorts/c1/customers/nobody@x.org", headers=h).status_code == 404


def test_the_comparison(ui):
    h = ui_client.bearer(ui_client.token())
    rows = {r["cohort_id"]: r for r in ui.get("/onboarding/api/comparison", headers=h).json()}
    assert (rows["c1"]["on_time_pct"], rows["c1"]["median_days"], rows["c1"]["lift"]) == ("43%", "2.0 d", "1.75x")
    assert rows["c1"]["lift_caveat"] == "few people, not a reliable figure" and rows["c2"]["lift_caveat"] is None
    page = ui.get("/onboarding/compare", headers=h)
    assert page.status_code == 200 and "<svg" in page.text and 'data-cohort="c2"' in page.text
    cell = re.search(r'<tr data-cohort="c1".*?</tr>', page.text, re.S).group(0)
    assert "1.75x" in cell and "few people, not a reliable figure" in _text(cell)  # beside the lift


def test_one_customer_on_hold_of_hundreds_is_never_shown_as_none(ui, engine):
    """Issue 23.11: 1 on hold of 307 is 0.3%, shown "<1%" (never "0%"); all but one, ">99%"."""
    with engine.begin() as conn:  # 300 more on time in c1's latest run: 1 held of 307
        conn.execute(sa.text("INSERT INTO customer_status (run_id, cohort_id, email, name, completed_at, status) "
                             "VALUES ('r1', 'c1', :e, 'N', '2026-11-02T00:00:00.000000Z', 'on_time')"),
                     [{"e": f"n{i}@x.org"} for i in range(300)])
    h = ui_client.bearer(ui_client.token())
    api = ui.get("/onboarding/api/cohorts/c1", headers=h).json()
    rows = {r["key"]: (r["n"], r["pct"]) for r in api["funnel_rows"]}
    assert rows["held"] == (1, "<1%") and rows["missed"] == (1, "<1%") and rows["on_time"] == (303, "99%")
    assert '<td class="n">&lt;1%</td>' in ui.get("/onboarding/cohorts/c1", headers=h).text
    from onboarding.reporting.page import _pct

    assert [_pct(x) for x in (0, 1 / 308, 0.005, 0.01, 0.125, 0.5, 307 / 308, 1)] == [
        "0%", "<1%", "<1%", "1%", "13%", "50%", ">99%", "100%"]


def test_data_docs_are_served_from_the_run_folder_and_nothing_else(ui, engine, tmp_path):
    site = tmp_path / "runs" / "c1" / "r1" / "validation" / "data_docs"
    (site / "static").mkdir(parents=True)
    (site / "index.html").write_text("<html>docs of r1</html>")
    (site / "static" / "app.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("not yours")
    ui_client.record_data_docs(engine, site / "index.html")
    h = ui_client.bearer(ui_client.token())
    base = "/onboarding/cohorts/c1/runs/r1/docs"
    assert ui.get(f"{base}/index.html", headers=h).text == "<html>docs of r1</html>"
    css = ui.get(f"{base}/static/app.css", headers=h)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for sneaky in ("../../../../secret.txt", "..%2F..%2F..%2F..%2Fsecret.txt", "%2e%2e/%2e%2e/secret.txt"):
        r = ui.get(f"{base}/{sneaky}", headers=h)
        assert r.status_code == 404 and "not yours" not in r.text, sneaky
    assert ui.get("/onboarding/cohorts/c1/runs/r0/docs/index.html", headers=h).status_code == 404  # no docs


def test_one_click_unsubscribe_needs_no_login_only_a_genuine_link(ui, engine, monkeypatch):
    from onboarding.consent import unsubscribe_token
    from onboarding.store import Store

    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_UNSUBSCRIBE_SECRET", "s3cret")
    token = unsubscribe_token("s3cret", "c1", "a@x.org")
    # Opening the link (a person, or a mail scanner following it) asks first and changes nothing.
    page = ui.get("/onboarding/unsubscribe", params={"t": token})
    assert page.status_code == 200 and "Unsubscribe a@x.org" in page.text and 'method="post"' in page.text
    assert Store(engine).suppressions.all() == []
    # A mail client's one-click request (RFC 8058), with no Airflow session at all.
    done = ui.post("/onboarding/unsubscribe", params={"t": token}, content=b"List-Unsubscribe=One-Click",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    (entry,) = Store(engine).suppressions.all()
    assert (entry["address"], entry["cohort_id"], entry["reason"], entry["source"]) == (
        "a@x.org", "c1", "unsubscribed", "one-click link")
    for bad in (unsubscribe_token("guess", "c1", "b@x.org"), "", token[:-3] + "xyz"):
        r = ui.post("/onboarding/unsubscribe", params={"t": bad})
        assert r.status_code == 400 and "not valid" in r.text
    assert len(Store(engine).suppressions.all()) == 1


def test_an_old_unsubscribe_link_never_writes_an_erased_person_back(ui, engine, monkeypatch, tmp_path):
    """A one-click POST from an email sent before the person was erased stores nothing, and the
    answer is the one anybody gets: it says nothing of whether the person exists."""
    from onboarding.consent import unsubscribe_token
    from onboarding.pipeline.erasure import address_pattern, erase
    from onboarding.store import Store

    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_UNSUBSCRIBE_SECRET", "s3cret")
    store = Store(engine)
    erase(store, "a@x.org", "*", {}, str(tmp_path / "runs"), [], "dpo", "asked by email")
    answers = {}
    for who in ("a@x.org", "nobody.ever@x.org"):  # erased; never a customer
        token = unsubscribe_token("s3cret", "c1", who)
        page = ui.get("/onboarding/unsubscribe", params={"t": token})
        done = ui.post("/onboarding/unsubscribe", params={"t": token}, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        answers[who] = [(r.status_code, r.text.replace(who, "ADDRESS")) for r in (page, done)]
    assert answers["a@x.org"] == answers["nobody.ever@x.org"]
    assert answers["a@x.org"][1][0] == 200 and "You are unsubscribed" in answers["a@x.org"][1][1]
    kept = [(e["address"], e["reason"]) for e in store.suppressions.all()]
    assert ("nobody.ever@x.org", "unsubscribed") in kept and len(kept) == 2  # hers is the erasure's hash only
    with engine.connect() as conn:
        texts = [" ".join(map(str, r)) for r in conn.execute(sa.text("SELECT * FROM suppressions"))]
    assert not any(address_pattern("a@x.org").search(t) for t in texts)


def test_requests_about_a_person_need_the_right_to_run_the_dag_and_are_audited(ui, engine, monkeypatch):
    """Erase, suppress, resend: POST to the page's API, by a user who may run the Dag (a Viewer may
    not), as JSON (a form posted from elsewhere with the session cookie is refused); each kept in
    the state database with who asked."""
    import ui_client as uc

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(uc.__file__).replace("tests/ui_client.py", "config/cohorts.yaml"))
    viewer, user = uc.bearer(uc.token("vic", role="viewer")), uc.bearer(uc.token("ines", role="user"))
    asks = {"/onboarding/api/erasures": {"address": "e@x.org", "cohort": "all", "reason": "asked by phone"},
            "/onboarding/api/suppressions": {"addresses": "e@x.org", "cohort": "all"},
            "/onboarding/api/resends": {"cohort": "ux-2026-12", "address": "e@x.org", "kind": "welcome",
                                        "reason": "she lost it"}}
    for route, body in asks.items():
        assert ui.post(route, json=body).status_code == 401, route
        assert ui.post(route, json=body, headers=viewer).status_code == 403, route
        # The UI's session cookie, but a form's body (what a page elsewhere could post): refused.
        ui.cookies.set("_token", uc.token("ines", role="user"))
        assert ui.post(route, data=body).status_code == 415, route
        ui.cookies.clear()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM suppressions WHERE address = 'e@x.org'")).scalar() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM erasures")).scalar() == 0
    # Nonsense is refused with the reason, nothing kept.
    for route, body, message in (
            ("/onboarding/api/suppressions", {"addresses": "not an address"}, "neither an email address"),
            ("/onboarding/api/resends", {**asks["/onboarding/api/resends"], "kind": "postcard"}, "kind: choose"),
            ("/onboarding/api/resends", {**asks["/onboarding/api/resends"], "cohort": "all"}, "name the customer's"),
            ("/onboarding/api/resends", {**asks["/onboarding/api/resends"], "reason": ""}, "reason: say why"),
            ("/onboarding/api/erasures", {"address": "@x.org", "reason": "asked by phone"}, "not an email address"),
            ("/onboarding/api/erasures", {"address": "e@x.org", "reason": ""}, "reason: say why"),
            ("/onboarding/api/erasures", {"address": "e@x.org", "cohort": "nope", "reason": "asked"}, "no cohort")):
        r = ui.post(route, json=body, headers=user)
        assert r.status_code == 400 and message in r.json()["detail"], (route, body, r.text)
    r = ui.post("/onboarding/api/suppressions", json={"addresses": ["E@x.org", "@spam.example"], "cohort": "all",
                                                      "note": "asked by phone"}, headers=user)
    assert r.status_code == 200 and r.json()["suppressed"] == ["e@x.org", "@spam.example"]
    r = ui.post("/onboarding/api/resends", json=asks["/onboarding/api/resends"], headers=user)
    assert r.status_code == 201 and re.fullmatch(r"resend-[0-9a-f]{16}", r.json()["reference"])
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT address, source, added_by, cohort_id FROM suppressions "
                                    "WHERE address IN ('e@x.org', '@spam.example') ORDER BY address")).all()
        resend = conn.execute(sa.text("SELECT cohort_id, email, kind, reason, requested_by FROM resend_requests")).one()
    assert [tuple(k) for k in kept] == [("@spam.example", "onboarding page", "ines", "*"),
                                        ("e@x.org", "onboarding page", "ines", "*")]
    assert tuple(resend) == ("ux-2026-12", "e@x.org", "welcome", "she lost it", "ines")
    # The erasure takes her out of the state database, the resend request too; the audit says who.
    r = ui.post("/onboarding/api/erasures", json=asks["/onboarding/api/erasures"], headers=user)
    assert r.status_code == 200 and "e@x.org" not in r.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM resend_requests")).scalar() == 0
        assert tuple(conn.execute(sa.text("SELECT requested_by, scope, reason FROM erasures")).one()) == (
            "ines", "*", "asked by phone")


def test_a_run_conf_holding_an_address_is_refused_before_airflow_stores_it(ui):
    """The REST API takes any conf: one holding an address (the form's old erase box, or anything
    else) is answered 400 by the plugin's root middleware, before Airflow's route runs, so neither
    dag_run.conf nor the audit log ever holds it."""
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    admin = ui_client.bearer(ui_client.token("ada", role="admin"))
    for conf in ({"erase": "zed.private@x.org", "erase_reason": "asked"}, {"cohort": "all", "as_of": "zed.private@x.org"},
                 {"kinds": ["zed.private@x.org"]}):
        r = ui.post("/api/v2/dags/onboarding_nightly/dagRuns", json={"logical_date": None, "conf": conf}, headers=admin)
        assert r.status_code == 400 and "/onboarding/api/erasures" in r.json()["detail"], r.text
    r = ui.post("/api/v2/backfills", headers=admin, json={"dag_id": "onboarding_nightly", "from_date": "2026-12-01T00:00:00Z",
                                                          "to_date": "2026-12-02T00:00:00Z",
                                                          "dag_run_conf": {"suppress": "zed.private@x.org"}})
    assert r.status_code == 400
    with create_session() as session:
        assert not [e for e in session.query(Log) if "zed.private" in (e.extra or "")]
        assert not [d for d in session.query(DagRun) if "zed.private" in str(d.conf)]
    # A conf without one reaches Airflow whole (its own validation answers: the body was passed on).
    r = ui.post("/api/v2/dags/onboarding_nightly/dagRuns", json={"logical_date": "not a date", "conf": {"cohort": "all"}},
                headers=admin)
    assert r.status_code == 422 and "logical_date" in r.text


def test_the_customer_page_has_the_three_actions_with_her_address_in_escaped_data_attributes(ui, engine):
    """Resend, do-not-email and erase are forms on her page whose script reads the address and
    cohort from data- attributes: an address with '/', quotes or '<' stays data, never script."""
    h = ui_client.bearer(ui_client.token())
    page = ui.get("/onboarding/cohorts/c1/customers/e@x.org", headers=h).text
    assert all(f'<form id="{f}-form"' in page for f in ("resend", "suppress", "restart", "erase"))
    assert re.search(r'<div id="actions" data-address="e@x.org" data-cohort="c1" data-api="/onboarding/api"', page)
    kinds = re.search(r'<form id="resend-form".*?</form>', page, re.S).group(0)
    assert sorted(re.findall(r'<option value="(\w+)">', kinds)) == ["cancellation", "reminder"]
    scripts = [part.split("</script>")[0] for part in page.split("<script>")[1:]]
    assert len(scripts) == 2 and "onclick" not in page.lower() and not any("e@x.org" in t for t in scripts)
    # Erasing asks a ticked box, not confirm(): Airflow's iframe (no allow-modals) answers that false.
    assert '<input type="checkbox" name="sure" required>' in page and "confirm(" not in page
    hostile = "o'brien\"/<b>x@x.org"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customer_status SET email = :a WHERE email = 'e@x.org'"), {"a": hostile})
        conn.execute(sa.text("UPDATE email_ledger SET recipient = :a WHERE recipient = 'e@x.org'"), {"a": hostile})
    from urllib.parse import quote

    r = ui.get("/onboarding/cohorts/c1/customers/" + quote(hostile, safe="@/"), headers=h)
    assert r.status_code == 200, r.text[:300]
    assert 'data-address="o&#39;brien&#34;/&lt;b&gt;x@x.org"' in r.text
    assert "<b>x@x.org" not in r.text


def test_restart_and_runs_from_the_page_need_the_right_to_run_the_dag(ui, engine, monkeypatch):
    """Restart her emails and start a run (release a hold, a dry run) from the page's API: a Viewer
    may not, a form's body is refused, nonsense is answered 400 with the reason; a run started
    holds the cohort and the switches in its conf, no address, and Airflow records who asked."""
    import json

    import ui_client as uc
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(uc.__file__).replace("tests/ui_client.py", "config/cohorts.yaml"))
    viewer, user = uc.bearer(uc.token("vic", role="viewer")), uc.bearer(uc.token("ines", role="user"))
    asks = {"/onboarding/api/restarts": {"address": "e@x.org", "cohort": "all"},
            "/onboarding/api/runs": {"cohort": "data-eng-2026-12", "action": "dry_run"}}
    for route, body in asks.items():
        assert ui.post(route, json=body).status_code == 401, route
        assert ui.post(route, json=body, headers=viewer).status_code == 403, route
        ui.cookies.set("_token", uc.token("ines", role="user"))
        assert ui.post(route, data=body).status_code == 415, route
        ui.cookies.clear()
    r = ui.post("/onboarding/api/restarts", json=asks["/onboarding/api/restarts"], headers=user)
    assert r.status_code == 400 and "her emails are not stopped" in r.json()["detail"]
    assert ui.post("/onboarding/api/suppressions", json={"addresses": "e@x.org", "cohort": "all"},
                   headers=user).status_code == 200
    r = ui.post("/onboarding/api/restarts", json=asks["/onboarding/api/restarts"], headers=user)
    assert r.status_code == 200 and r.json() == {"restarted": "e@x.org", "cohort": "*", "lifted": ["*"]}
    with engine.connect() as conn:
        audit = conn.execute(sa.text("SELECT action, changed_by FROM suppression_changes ORDER BY changed_at")).all()
    assert [tuple(a) for a in audit] == [("stopped", "ines"), ("restarted", "ines")]

    for body, message in (({"cohort": "nope", "action": "dry_run"}, "no cohort 'nope'"),
                          ({"cohort": "data-eng-2026-12", "action": "release", "release_guards": "sky_fell"}, "guard"),
                          ({"cohort": "data-eng-2026-12", "action": "dry_run", "as_of": "zed@x.org"}, "holds an address"),
                          ({"cohort": "data-eng-2026-12", "action": "dry_run", "as_of": "tuesday"}, "As of"),
                          ({"cohort": "data-eng-2026-12", "action": "resend"}, "give the reference"),
                          ({"cohort": "data-eng-2026-12", "action": "resend", "resend_request": "e@x.org"}, "address"),
                          ({"cohort": "data-eng-2026-12", "action": "resend", "resend_request": "resend-12"},
                           "not a resend request's reference")):
        r = ui.post("/onboarding/api/runs", json=body, headers=user)
        assert r.status_code == 400 and message in r.json()["detail"], (body, r.text)
    assert ui.post("/onboarding/api/runs", json={"cohort": "data-eng-2026-12", "action": "send_all"},
                   headers=user).status_code == 422
    # The Dag as the dag processor would have stored it, then a release started from the page.
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(uc.__file__).replace("tests/ui_client.py", "dags"))
    sync_bag_to_db(bag, "dags-folder", None)
    r = ui.post("/onboarding/api/runs", json={"cohort": "data-eng-2026-12", "action": "release",
                                              "release_guards": "shrunk_completions"}, headers=user)
    assert r.status_code == 201, r.text
    run_id = r.json()["run_id"]
    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id="onboarding_nightly", run_id=run_id).one()
        logged = session.query(Log).filter_by(event="onboarding_page_trigger", run_id=run_id).one()
        assert run.conf == {"cohort": "data-eng-2026-12", "as_of": None, "dry_run": False,
                            "release_guards": ["shrunk_completions"]}
        assert run.triggering_user_name == "ines" and logged.owner == "ines"
        assert "@" not in json.dumps(run.conf) and "@" not in (logged.extra or "")
    # A resend kept on her page, sent by a run the page starts: its conf names the reference only.
    ref = ui.post("/onboarding/api/resends", headers=user, json={"cohort": "data-eng-2026-12", "address": "e@x.org",
                                                                 "kind": "welcome", "reason": "she lost it"}).json()["reference"]
    r = ui.post("/onboarding/api/runs", json={"cohort": "data-eng-2026-12", "action": "resend", "resend_request": ref},
                headers=user)
    assert r.status_code == 201 and r.json()["conf"] == {"cohort": "data-eng-2026-12", "as_of": None, "dry_run": False,
                                                         "release_guards": None, "resend": True,
                                                         "resend_request": ref}
    # A reference of another cohort is refused as the trigger form's would be: no run made.
    other = ui.post("/onboarding/api/resends", headers=user, json={"cohort": "ux-2026-12", "address": "e@x.org",
                                                                   "kind": "welcome", "reason": "lost it"}).json()["reference"]
    r = ui.post("/onboarding/api/runs", json={"cohort": "data-eng-2026-12", "action": "resend", "resend_request": other},
                headers=user)
    assert r.status_code == 400 and f"{other} was asked for in cohort ux-2026-12" in r.json()["detail"]


def test_a_trigger_that_its_run_would_refuse_is_answered_400_before_the_run_exists(ui, engine, monkeypatch):
    """POST /api/v2/dags/onboarding_nightly/dagRuns (the trigger form's request) with a conf the run's
    first task would refuse is answered 400 by the plugin's root middleware, with one plain sentence
    naming the field, and no run is made: a resend ticked without its reference, a reference no
    request has or one of another cohort, an email kind the chosen cohort does not send, an As of
    that is no date. A user who may not run the Dag gets Airflow's own 403 (the state database is
    not read for him); a conf that makes sense makes its run."""
    import ui_client as uc
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(uc.__file__).replace("tests/ui_client.py", "config/cohorts.yaml"))
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(DagBag(dag_folder=str(uc.__file__).replace("tests/ui_client.py", "dags")), "dags-folder", None)
    user = uc.bearer(uc.token("ines", role="user"))
    ref = ui.post("/onboarding/api/resends", headers=user, json={"cohort": "ux-2026-12", "address": "e@x.org",
                                                                 "kind": "welcome", "reason": "she lost it"}).json()["reference"]
    form = {"cohort": "all", "as_of": None, "dry_run": False, "release_guards": [], "kinds": [], "resend": False,
            "resend_request": None}  # every param, as the form posts them

    def runs():
        with create_session() as session:
            return {r.run_id: r.conf for r in session.query(DagRun).filter_by(dag_id="onboarding_nightly")}

    before = runs()

    def trigger(headers=user, **chosen):
        return ui.post("/api/v2/dags/onboarding_nightly/dagRuns", headers=headers,
                       json={"logical_date": None, "conf": {**form, **chosen}})

    for chosen, sentence in (
            ({"resend": True}, "Resend one email is ticked but Resend reference is empty: paste the reference her "
                               "page gave (resend-...), or untick Resend one email."),
            ({"resend": True, "resend_request": "resend-0123456789abcdef"},
             "Resend reference resend-0123456789abcdef: no such request; ask for the resend on her page"),
            ({"cohort": "data-eng-2026-12", "resend": True, "resend_request": ref},
             f"Resend reference {ref} was asked for in cohort ux-2026-12, not data-eng-2026-12: choose ux-2026-12 "
             "(or All cohorts) as the Cohort."),
            ({"cohort": "data-eng-2026-12", "kinds": ["reminder", "stage"]},
             "Email kinds: data-eng-2026-12 sends reminders, cancellations and welcomes, not stage emails; leave "
             "Email kinds empty for all of its kinds."),
            ({"as_of": "2026-02-30"}, "As of: '2026-02-30' is neither a date (2026-12-05) nor a datetime"),
            ({"as_of": "2026-12-05T25:00"}, "As of: '2026-12-05T25:00' is neither a date")):
        r = trigger(**chosen)
        assert r.status_code == 400, (chosen, r.text)
        detail = r.json()["detail"]
        assert detail.startswith(sentence) and "\n" not in detail and "Traceback" not in detail, (chosen, detail)
    assert runs() == before
    # Someone who may not run the Dag learns nothing from the state database: Airflow answers him.
    assert trigger(uc.bearer(uc.token("vic", role="viewer")), resend=True, resend_request=ref).status_code == 403
    assert trigger({}, resend=True, resend_request=ref).status_code == 401
    # Her reference alone names her cohort: the run is made, its conf as she sent it.
    r = trigger(resend=True, resend_request=ref)
    assert r.status_code == 200, r.text
    (made,) = set(runs()) - set(before)
    assert runs()[made]["resend_request"] == ref and runs()[made]["resend"] is True


@pytest.fixture(scope="module")
def built_guide(tmp_path_factory):
    """The documentation site as scripts/docs.sh builds it (strict), into a folder of the test's."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    site = tmp_path_factory.mktemp("guide") / "site"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=root,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, check=True, capture_output=True, timeout=300)
    return site


def _follow_to_heading(ui, h, href: str) -> None:
    """The link resolves on the api-server: its page is served, with the heading it points at."""
    path, _, anchor = href.partition("#")
    page = ui.get(path, headers=h)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), (href, page.status_code)
    assert f'id="{anchor}"' in page.text, href
    css = re.search(r'href="([^"]+\.css)"', page.text)[1]  # its styles, relative to the page
    from urllib.parse import urljoin

    assert ui.get(urljoin(path, css), headers=h).headers["content-type"].startswith("text/css")


def test_every_page_links_to_its_section_of_the_guide_served_beside_it(ui, engine, monkeypatch, tmp_path, built_guide):
    """Issue 27: the Onboarding page's pages link to the instructor's guide at the section about
    them; the plugin serves the built site behind the same login, and says how to build it when it
    is not built."""
    h = ui_client.bearer(ui_client.token(role="viewer"))
    monkeypatch.setenv("ONBOARDING_GUIDE_SITE", str(tmp_path / "not-built"))
    missing = ui.get("/onboarding/guide/instructor/", headers={**h, "Accept": "text/html"})
    assert missing.status_code == 404 and "bash scripts/docs.sh" in missing.text
    monkeypatch.setenv("ONBOARDING_GUIDE_SITE", str(built_guide))
    wanted = {"/onboarding/": "the-onboarding-page", "/onboarding/cohorts/c1": "the-onboarding-page",
              "/onboarding/cohorts/c1/customers/e@x.org": "see-one-customer",
              "/onboarding/cohorts/c1/quarantine": "fix-a-quarantined-row", "/onboarding/compare": "the-onboarding-page"}
    for route, anchor in wanted.items():
        page = ui.get(route, headers=h)
        assert page.status_code == 200, route
        (href,) = re.findall(r'id="guide-link" href="([^"]+)"', page.text)
        assert href == f"/onboarding/guide/instructor/#{anchor}", (route, href)
        _follow_to_heading(ui, h, href)
    # The site's own pages and search index are there; nothing outside it is.
    assert ui.get("/onboarding/guide/", headers=h).status_code == 200
    assert ui.get("/onboarding/guide/search/search_index.json", headers=h).status_code == 200
    moved = ui.get("/onboarding/guide/privacy", headers=h, follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "/onboarding/guide/privacy/"
    (built_guide.parent / "secret.txt").write_text("not yours")
    for sneaky in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e/secret.txt", "instructor/../../secret.txt"):
        r = ui.get(f"/onboarding/guide/{sneaky}", headers=h)
        assert r.status_code == 404 and "not yours" not in r.text, sneaky


def test_the_summary_links_to_the_guide_and_the_link_resolves(ui, engine, monkeypatch, tmp_path, built_guide):
    """The summary email's footer links to the instructor's guide (absolute, like its other links),
    at the section for the night it reports: how to read it, or how to release a hold."""
    from helpers import local
    from test_summary_browser import deciding_night, run_night

    deciding_night(tmp_path, 40)
    msg = run_night(engine, tmp_path, local(2026, 12, 5))
    html, text = msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content()
    link = "http://localhost:8080/onboarding/guide/instructor/#the-summary-email"  # no api.base_url: the local UI's
    assert f'href="{link}"' in html and link in text
    monkeypatch.setenv("ONBOARDING_GUIDE_SITE", str(built_guide))
    _follow_to_heading(ui, ui_client.bearer(ui_client.token(role="viewer")), link.removeprefix("http://localhost:8080"))
    _follow_to_heading(ui, ui_client.bearer(ui_client.token(role="viewer")), "/onboarding/guide/instructor/#release-a-hold")
