"""The Onboarding page: an Airflow plugin (a FastAPI app mounted in Airflow's api-server at
``/onboarding``, and an entry "Onboarding" in the UI's navigation that shows it inside Airflow).

Behind Airflow's own login: every route needs a valid Airflow session (the UI's
``_token`` cookie) or an API token (``Authorization: Bearer``), and read access to the
``onboarding_nightly`` Dag; without them it answers 401 (no or expired credentials) or 403
(an invalid token, or a user who may not read the Dag), and serves no customer data.

Pages: the cohorts, one cohort (what needs her, CSMs, funnel, stages, reminders, customers filtered by standing,
stage, CSM and what they wait for, the first quarantined rows and orphans, runs), the last run's quarantined
rows and orphans a page at a time, one
customer's timeline, cohorts compared, each run's GX Data Docs; and the same as JSON under
``/onboarding/api``. Requests about a person (erase, suppress, restart, resend: ``POST
/onboarding/api/...``) and a cohort's runs (release a hold, a dry run: ``POST /onboarding/api/runs``)
need the right to run the Dag (a Viewer may not). The reads are ``onboarding.reporting.page``; this file is only the web.
"""
from __future__ import annotations

import functools
import mimetypes
import re
import time
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

PREFIX = "/onboarding"
DAG_ID = "onboarding_nightly"

# No interactive docs pages (FastAPI's load their script from a CDN, into Airflow's origin) and no
# public schema: the OpenAPI document is a route like the others, behind the login (below).
app = FastAPI(title="Onboarding", description="The onboarding pipeline's cohorts, funnels and customers "
              "(reads, and requests about a person).", docs_url=None, redoc_url=None, openapi_url=None)


# --- access ---------------------------------------------------------------------------------------
async def reader(request: Request) -> Any:
    """The Airflow user of the request, who must be allowed to read the onboarding Dag: 401 when
    there is no valid session or token, 403 when the token is invalid or the user may not."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    user = await get_user(request, None, await bearer_scheme(request))
    if not get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=DAG_ID), user=user):
        raise HTTPException(status_code=403, detail=f"not allowed to read the {DAG_ID} Dag")
    return user


@app.exception_handler(HTTPException)
async def _refused(request: Request, exc: HTTPException) -> Response:
    """API routes answer JSON; pages answer a short page that says what to do."""
    if request.url.path.startswith(f"{_root(request)}/api") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    login = None
    if exc.status_code == 401:
        from airflow.api_fastapi.app import get_auth_manager

        login = get_auth_manager().get_url_login()
    heading = {401: "Please log in", 403: "Not allowed", 404: "Not found"}.get(exc.status_code, "Error")
    return _page(request, "message.html", {"heading": heading, "text": exc.detail, "login": login},
                 status=exc.status_code)


# --- the reads ------------------------------------------------------------------------------------
def _store():
    """The state database of the ``onboarding_state`` connection as it is now (its engine is made
    once per database and kept: ``onboarding.resources``)."""
    from onboarding.resources import Resources

    return Resources.outside_task().store()


def journey():
    """The reads for this request: the state database and the cohort file as it is now."""
    from onboarding.cohorts import ConfigError, read_cohort_file
    from onboarding.reporting.page import PageReads

    try:
        cohort_file = read_cohort_file()
    except ConfigError:
        cohort_file = None  # the page still shows every cohort that ran, from what its runs recorded
    return PageReads(_store(), cohort_file)


@functools.cache
def _templates():
    import jinja2

    from onboarding.paths import TEMPLATES_DIR

    # The pages by their names ("cohort.html"); a partial also by its folder ("ui/_cohort_actions.html").
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([TEMPLATES_DIR / "ui", TEMPLATES_DIR]), autoescape=True)
    env.filters["basename"] = lambda p: PurePosixPath(str(p or "").replace("\\", "/")).name
    env.filters["segment"] = lambda v: quote(str(v), safe="@")  # one path segment: '/' encoded too
    from onboarding.decisions.guards import GUARD_LABELS

    env.globals["guard_labels"] = GUARD_LABELS  # Release a hold's choices, as the guards define them
    return env


def _root(request: Request) -> str:
    return request.scope.get("root_path", "") or PREFIX


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    root = _root(request)
    started = request.scope.get("onboarding_started", time.perf_counter())
    html = _templates().get_template(template).render(
        base=root, airflow=root[: -len(PREFIX)] if root.endswith(PREFIX) else "", dag_id=DAG_ID,
        guide=f"{root}/guide/{GUIDE_PAGES.get(template, 'instructor/')}", **context)
    ms = (time.perf_counter() - started) * 1000
    return HTMLResponse(html, status_code=status, headers={"Server-Timing": f"render;dur={ms:.1f}",
                                                           "Cache-Control": "no-store"})


def _svg(spec: dict | None) -> str:
    from onboarding.reporting import charts

    return charts.svg(spec) if spec else ""


_CHARTS: dict[tuple[str, str], Any] = {}  # (database, cohort, decided run) -> its charts as SVG; the comparison's


def _cohort_charts(j, cohort_id: str, funnel: dict | None) -> dict[str, str]:
    """The cohort's charts, drawn once per decided run: they change only when a run decides (the
    figures come from the latest decided run and the nights that sent its emails)."""
    if not funnel:
        return {}
    key = (str(j.store.engine.url), cohort_id, funnel["run_id"])
    if key not in _CHARTS:
        if len(_CHARTS) >= 256:
            _CHARTS.pop(next(iter(_CHARTS)))
        _CHARTS[key] = {k: _svg(v) for k, v in j.charts(cohort_id).items()}
    return _CHARTS[key]


@app.middleware("http")
async def _timing(request: Request, call_next):
    request.scope["onboarding_started"] = time.perf_counter()
    response = await call_next(request)
    response.headers.setdefault("Cache-Control", "no-store")  # customer data: never cached
    return response


@app.get("/api/openapi.json", include_in_schema=False)
def openapi_schema(_user=Depends(reader)):
    """The API's OpenAPI document, for a logged-in reader."""
    return JSONResponse(app.openapi())


# --- pages ----------------------------------------------------------------------------------------
@app.get("/", response_class=HTMLResponse)
def cohorts_page(request: Request, _user=Depends(reader)):
    return _page(request, "cohorts.html", {"cohorts": journey().cohorts()})


def customer_filter(q: str | None = Query(None, max_length=200),
                    standing: str = Query("", max_length=200, description="a standing as stored: missed, 'details: overdue'"),
                    stage: str = Query("", max_length=200, description="a journey stage's id: anyone in it"),
                    csm: str = Query("", max_length=320, description="a CSM's address: their customers"),
                    needs: str = Query("", max_length=40, description="awaiting_approval, waiting_for_csm, overdue, "
                                       "open_query, or any: who waits on a person"),
                    on: str = Query("", max_length=20, description="on whom they wait: instructor or csm")):
    """The customer list's search and filters, from the page's query string."""
    from onboarding.store.analytics import CustomerFilter

    return CustomerFilter(search=q or "", standing=standing, stage=stage, csm=csm, needs=needs, waits_on=on)


@app.get("/cohorts/{cohort_id}", response_class=HTMLResponse)
def cohort_page(request: Request, cohort_id: str, which=Depends(customer_filter),
                page: int = Query(1, ge=1, le=1_000_000), _user=Depends(reader)):
    j = journey()
    c = j.cohort(cohort_id, page=page, which=which)
    if c is None:
        raise HTTPException(404, f"no cohort {cohort_id!r}")
    return _page(request, "cohort.html", {"c": c, "svgs": _cohort_charts(j, cohort_id, c["funnel"]),
                                          "query": _query(which)})


def _query(which) -> str:
    """The list's filters as a query string (for its pages' links), without the page."""
    from urllib.parse import urlencode

    pairs = {"q": which.search, "standing": which.standing, "stage": which.stage, "csm": which.csm,
             "needs": which.needs, "on": which.waits_on}
    return urlencode({k: v for k, v in pairs.items() if v})


@app.get("/cohorts/{cohort_id}/{what}", response_class=HTMLResponse)
def problem_rows_page(request: Request, cohort_id: str, what: str, page: int = Query(1, ge=1, le=1_000_000),
                      _user=Depends(reader)):
    """The last run's quarantined rows (``quarantine``) or completions with no signup (``orphans``),
    a page at a time."""
    listed = journey().problem_rows(cohort_id, what, page)
    if listed is None:
        raise HTTPException(404, f"no list {what!r} of cohort {cohort_id!r}")
    return _page(request, "rows.html", {"r": listed})


# {email:path}: an address may contain '/' (the page's links encode it; the server decodes it back).
@app.get("/cohorts/{cohort_id}/customers/{email:path}", response_class=HTMLResponse)
def customer_page(request: Request, cohort_id: str, email: str, _user=Depends(reader)):
    reads = journey()
    p = reads.customer(cohort_id, email)
    if p is None:
        raise HTTPException(404, f"no customer {email!r} in cohort {cohort_id!r}")
    return _page(request, "customer.html", {"p": p, "next": _what_next(reads, cohort_id, email)})


def _what_next(reads, cohort_id: str, email: str) -> list[dict[str, Any]] | None:
    """Her next nights if nothing changes (a journey cohort in the cohort file, with a decided run):
    the nightly run's own decisions, simulated night by night (``pipeline.simulate.what_next``),
    read only; quiet nights folded into the night before."""
    from onboarding.pipeline.simulate import what_next

    cohort = reads.file.cohorts.get(cohort_id) if reads.file else None
    try:
        nights = what_next(reads.store, cohort, email) if cohort is not None else None
    except ValueError:  # a night that would refuse to run (decisions.simulate): her history still shows
        return None
    if not nights:
        return None
    out: list[dict[str, Any]] = []
    for n in nights:
        if out and n.same_as(out[-1]["night"]):
            out[-1]["until"] = f"{n.moment.astimezone(cohort.tz):%a %d %b %Y %H:%M}"
            continue
        out.append({"night": n, "when": f"{n.moment.astimezone(cohort.tz):%a %d %b %Y %H:%M}", "until": None,
                    "where": n.where(), "what": n.what(), "sent": list(n.sent)})
    return out


@app.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, _user=Depends(reader)):
    from onboarding.reporting import charts

    rows = journey().comparison()
    # The chart shows the courses' standings (on time, late, missed); a journey has no deadline to
    # be on time for. Drawn once per set of figures.
    courses = [{k: r[k] for k in ("cohort_id", "signed_up", "on_time", "completed_late", "missed")}
               for r in rows if not r["journey"]]
    key = ("compare", repr(courses))
    if key not in _CHARTS:
        if len(_CHARTS) >= 256:
            _CHARTS.pop(next(iter(_CHARTS)))
        _CHARTS[key] = _svg(charts.comparison_spec(courses)) if courses else ""
    return _page(request, "compare.html", {"rows": rows, "svg": _CHARTS[key]})


@app.get("/cohorts/{cohort_id}/runs/{run_id}/docs/{path:path}")
def data_docs(cohort_id: str, run_id: str, path: str, _user=Depends(reader)):
    """A file of the run's GX Data Docs site (its pages, styles and scripts), from the run folder."""
    from onboarding import storage

    if any(not c.isprintable() for c in cohort_id + run_id + path) or len(path) > 1024 \
            or max(len(cohort_id), len(run_id)) > 250:
        raise HTTPException(400, "not a Data Docs file name")  # a NUL byte, a control character, too long
    index = journey().data_docs(cohort_id, run_id)
    parts = PurePosixPath(path).parts
    if not index or not parts or any(p in ("..", ".") or p.startswith("/") or len(p) > 255 for p in parts):
        raise HTTPException(404, "no such Data Docs file")
    site = storage.location(str(Path(index).parent) if not storage.is_url(index) else index.rsplit("/", 1)[0])
    target = site.joinpath(*parts)
    try:
        data = target.read_bytes()
    except (OSError, ValueError):  # missing, a folder, a name the file system refuses
        raise HTTPException(404, "no such Data Docs file") from None
    kind = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    # The site is GX's own HTML with a validated run's values escaped (see validation/gx.py); it
    # runs no script from elsewhere once rendered offline, and nothing here may be framed by others.
    return Response(data, media_type=kind, headers={"X-Content-Type-Options": "nosniff",
                                                    "Content-Security-Policy": "frame-ancestors 'self'"})


# --- the guide: the documentation site (docs/, built by scripts/docs.sh into var/site/) ---------------
# Each page links to the guide's section for it (the instructor's guide, docs/instructor.md).
GUIDE_PAGES = {"cohorts.html": "instructor/#the-onboarding-page", "cohort.html": "instructor/#the-onboarding-page",
               "customer.html": "instructor/#see-one-customer", "rows.html": "instructor/#fix-a-quarantined-row",
               "compare.html": "instructor/#the-onboarding-page"}


def guide_site() -> Path:
    """Where scripts/docs.sh builds the site (``ONBOARDING_GUIDE_SITE`` to serve another build)."""
    import os

    from onboarding.paths import PROJECT_ROOT

    return Path(os.environ.get("ONBOARDING_GUIDE_SITE") or PROJECT_ROOT / "var" / "site")


@app.get("/guide", include_in_schema=False)
def guide_root(request: Request, _user=Depends(reader)):
    return Response(status_code=307, headers={"Location": f"{_root(request)}/guide/"})


@app.get("/guide/{path:path}", include_in_schema=False)
def guide(request: Request, path: str, _user=Depends(reader)):
    """A file of the built guide (its pages link to each other relatively, so it works under any
    prefix); when the site is not built, a page saying how to build it."""
    site = guide_site().resolve()
    if not (site / "index.html").is_file():
        return _page(request, "message.html", {
            "heading": "The guide is not built yet",
            "text": "Build it once on the api-server's machine with: bash scripts/docs.sh "
                    "(it writes var/site/; then reload this page). Its pages are also in the docs/ folder "
                    "of the project, readable as they are."}, status=404)
    parts = PurePosixPath(path).parts
    if any(not c.isprintable() for c in path) or any(p in ("..", ".") or p.startswith("/") for p in parts):
        raise HTTPException(404, "no such page of the guide")
    target = site.joinpath(*parts)
    if target.is_dir():
        if path and not path.endswith("/"):  # a page's folder: its relative links need the slash
            return Response(status_code=307, headers={"Location": f"{_root(request)}/guide/{path}/"})
        target = target / "index.html"
    try:
        if not target.resolve().is_relative_to(site):
            raise HTTPException(404, "no such page of the guide")
        data = target.read_bytes()
    except (OSError, ValueError):
        raise HTTPException(404, "no such page of the guide") from None
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return Response(data, media_type=kind, headers={"X-Content-Type-Options": "nosniff",
                                                    "Content-Security-Policy": "frame-ancestors 'self'"})


# --- requests about a person: erase, suppress, resend (users who may run the Dag) -------------------
# Asked for here, never in the trigger form: Airflow keeps a run's parameters in its own database,
# where an erasure cannot reach; here the address goes to the state database only. The logic is
# onboarding.pipeline.privacy; each request is audited there with the Airflow user who asked.
async def _run_user(request: Request) -> Any:
    """The Airflow user of the request, who must be allowed to run the onboarding Dag (a Viewer may
    not): 401 without a valid session or token, 403 otherwise."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    user = await get_user(request, None, await bearer_scheme(request))
    if not get_auth_manager().is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN,
                                                details=DagDetails(id=DAG_ID), user=user):
        raise HTTPException(status_code=403, detail=f"not allowed to run the {DAG_ID} Dag")
    return user


async def runner(request: Request) -> Any:
    """The Airflow user of the request, who must be allowed to run the onboarding Dag (``_run_user``).
    A JSON body only: a page elsewhere cannot post a form here with the user's session cookie."""
    user = await _run_user(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status_code=415, detail="send the request as JSON")
    return user


class ErasureAsked(BaseModel):
    address: str = Field(max_length=320)
    cohort: str = Field("all", max_length=200, description="a cohort's id, or 'all': every cohort")
    reason: str = Field(max_length=1000, description="why (kept in the audit record)")


class SuppressionAsked(BaseModel):
    addresses: str | list[str] = Field(description="addresses or @domains (a list, or comma-separated)")
    cohort: str = Field("all", max_length=200)
    note: str | None = Field(None, max_length=1000)


class ResendAsked(BaseModel):
    cohort: str = Field(max_length=200)
    address: str = Field(max_length=320)
    kind: str = Field(max_length=200, description="reminder, cancellation, welcome, or a journey's <stage>:<kind>")
    reason: str = Field(max_length=1000)


def _asked(fn, *args, **kwargs):
    """A request's logic, its refusal (bad input, a broken cohort file) answered 400."""
    from onboarding.errors import ConfigError, ParamsError

    try:
        return fn(*args, **kwargs)
    except (ParamsError, ConfigError) as exc:
        raise HTTPException(400, str(exc)) from None


def _who(user: Any) -> str:
    return str(getattr(user, "get_name", lambda: None)() or getattr(user, "username", None) or "unknown user")


@app.post("/api/erasures")
def api_erase(asked: ErasureAsked, user=Depends(runner)):
    """Erase one person now (docs/privacy.md): from the state database, the run
    folders, the reports and the approval requests in Airflow's database. Cannot be undone."""
    from onboarding import airflow_db, paths
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline import privacy
    from onboarding.resources import Resources

    res = Resources.outside_task()
    found = _asked(read_cohort_file)
    outboxes = res.outbox_paths(c.email_connection for c in found.cohorts.values())
    return _asked(privacy.erase, _store(), found, asked.address, asked.cohort, asked.reason, _who(user),
                  paths.runs_base(), outboxes, res.sheet_writer, airflow_db.erase_person)


@app.post("/api/suppressions")
def api_suppress(asked: SuppressionAsked, user=Depends(runner)):
    """Never email these addresses or @domains again (one cohort, or all)."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline import privacy

    kept = _asked(privacy.suppress, _store(), _asked(read_cohort_file), asked.addresses, asked.cohort, asked.note,
                  _who(user))
    return {"suppressed": kept, "cohort": asked.cohort}


class RestartAsked(BaseModel):
    address: str = Field(max_length=320)
    cohort: str = Field("all", max_length=200)
    note: str | None = Field(None, max_length=1000)


@app.post("/api/restarts")
def api_restart(asked: RestartAsked, user=Depends(runner)):
    """Restart her emails: lift a manual "do not email" (never a bounce, a complaint or her own
    unsubscribe: refused with the reason). The next run may email her again."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline import privacy

    return _asked(privacy.restart, _store(), _asked(read_cohort_file), asked.address, asked.cohort, asked.note,
                  _who(user))


class RunWanted(BaseModel):
    cohort: str = Field(max_length=200, description="the cohort's id")
    action: str = Field(pattern="^(release|dry_run|resend)$", description="release: rerun releasing the guards; "
                        "dry_run: decide and render, send nothing; resend: send a resend asked for on the page")
    release_guards: str | None = Field("all", max_length=200, description="for release: guard names, or 'all'")
    as_of: str | None = Field(None, max_length=40, description="decide as of this date or datetime (empty: now)")
    resend_request: str | None = Field(None, max_length=40, description="for resend: the reference (resend-...)")


@app.post("/api/runs", status_code=201)
def api_run(asked: RunWanted, user=Depends(runner)):
    """Start a run of the onboarding Dag for one cohort, as the trigger form would: releasing a
    hold (the guards named) or a dry run. Its conf holds the cohort, the moment and the switches,
    never an address (``onboarding.run.refusal`` checks it as the trigger form's pre-check does); Airflow
    records who triggered it."""
    import json

    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    from onboarding.cohorts import read_cohort_file

    if asked.cohort not in _asked(read_cohort_file).cohorts:
        raise HTTPException(400, f"cohort: no cohort {asked.cohort!r} in the cohort file")
    conf = {"cohort": asked.cohort, "as_of": (asked.as_of or "").strip() or None, "dry_run": asked.action == "dry_run",
            # The form's param is a list of guard names (Airflow checks each against its enum).
            "release_guards": [g.strip() for g in (asked.release_guards or "all").split(",") if g.strip()]
            if asked.action == "release" else None}
    if asked.action == "resend":
        if not asked.resend_request:
            raise HTTPException(400, "resend_request: give the reference the resend was kept under (resend-...)")
        conf.update(resend=True, resend_request=asked.resend_request)
    # Checked as the trigger form's request is (a guard's name, an address, a date, the reference
    # unknown or of another cohort): refused here with the reason, no run made.
    reason = _check_conf(conf)
    if reason:
        raise HTTPException(400, reason)
    who = _who(user)
    what = {"release": "release the hold", "dry_run": "dry run", "resend": "a resend"}[asked.action]
    try:
        run = trigger_dag(DAG_ID, triggered_by=DagRunTriggeredByType.UI, triggering_user_name=who, conf=conf,
                          note=f"{what} of {asked.cohort}, asked on the Onboarding page by {who}")
    except Exception as exc:  # the Dag not parsed yet, a run id taken: Airflow's words
        raise HTTPException(409, f"Airflow did not start the run: {exc}") from None
    with create_session() as session:
        session.add(Log(event="onboarding_page_trigger", owner=who, dag_id=DAG_ID, run_id=run.run_id,
                        extra=json.dumps(conf)))
        paused = bool(session.get(DagModel, DAG_ID).is_paused)
    return {"run_id": run.run_id, "cohort": asked.cohort, "action": asked.action, "conf": conf, "paused": paused}


@app.post("/api/resends", status_code=201)
def api_resend(asked: ResendAsked, user=Depends(runner)):
    """Keep a resend of one customer's email; give the reference answered as the trigger form's
    ``resend_request`` (with the cohort) and that run sends it."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline import privacy

    ref = _asked(privacy.ask_resend, _store(), _asked(read_cohort_file), asked.cohort, asked.address, asked.kind,
                 asked.reason, _who(user))
    return {"reference": ref, "cohort": asked.cohort}


# --- unsubscribing (public: the recipients of marketing emails are not Airflow users) ---------------
# The link in a marketing email carries a token signed with the Airflow variable
# onboarding_unsubscribe_secret: who and which cohort. Opening it shows a button (mail scanners
# that follow links must not unsubscribe anyone); a POST to it, the button's or a mail client's
# one-click request (RFC 8058), records the unsubscribe on the suppression list.
def _unsubscriber(token: str) -> tuple[str, str] | None:
    """(cohort id, email) of a genuine link's token; None for anything else."""
    from onboarding.consent import read_unsubscribe_token
    from onboarding.resources import Resources

    secret = Resources.outside_task().variable("onboarding_unsubscribe_secret")
    return read_unsubscribe_token(secret, token) if secret else None


def _public(template: str, status: int = 200, **context) -> HTMLResponse:
    html = _templates().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                           "Referrer-Policy": "no-referrer"})


def _invalid_link() -> HTMLResponse:
    return _public("unsubscribe.html", 400, heading="Link not valid", confirm=False,
                   text="This unsubscribe link is not valid. Reply to the email to unsubscribe instead.")


@app.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(t: str = Query("", max_length=1000)):
    who = _unsubscriber(t)
    if who is None:
        return _invalid_link()
    return _public("unsubscribe.html", heading="Unsubscribe", confirm=True, email=who[1],
                   text="Stop the optional emails (offers, news) of this course to this address?")


@app.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe(t: str = Query("", max_length=1000)):
    who = _unsubscriber(t)
    if who is None:
        return _invalid_link()
    cohort_id, email = who
    # A person erased on request is not written back (the store refuses, by the erasure's hash);
    # the answer is the same either way, so it tells nobody whether the person exists.
    _store().suppressions.add(email, "unsubscribed", "one-click link", cohort_id)
    return _public("unsubscribe.html", heading="You are unsubscribed", confirm=False,
                   text=f"{email} gets no more optional emails from this course.")


# --- the same as JSON -----------------------------------------------------------------------------
@app.get("/api/cohorts")
def api_cohorts(_user=Depends(reader)):
    return [{k: v for k, v in c.items() if k != "row"} | {"standings": c.get("row", {})} for c in journey().cohorts()]


@app.get("/api/cohorts/{cohort_id}")
def api_cohort(cohort_id: str, which=Depends(customer_filter), page: int = Query(1, ge=1),
               _user=Depends(reader)):
    import dataclasses

    c = journey().cohort(cohort_id, page=page, which=which)
    if c is None:
        raise HTTPException(404, f"no cohort {cohort_id!r}")
    facts = c.pop("facts")
    c["filter"] = dataclasses.asdict(c["filter"])
    return {"cohort": {"id": facts.id, "title": facts.title, "timezone": facts.timezone,
                       "deadline": facts.deadline.isoformat()}, **c}


@app.get("/api/cohorts/{cohort_id}/customers/{email:path}")
def api_customer(cohort_id: str, email: str, _user=Depends(reader)):
    reads = journey()
    p = reads.customer(cohort_id, email)
    if p is None:
        raise HTTPException(404, f"no customer {email!r} in cohort {cohort_id!r}")
    p.pop("facts")
    nights = _what_next(reads, cohort_id, email)
    p["next"] = [{k: v for k, v in n.items() if k != "night"} | {"moment": n["night"].moment.isoformat()}
                 for n in nights] if nights else None
    return p


@app.get("/api/comparison")
def api_comparison(_user=Depends(reader)):
    return journey().comparison()


# --- no address in a run's conf, no run that would be refused (a root middleware of the api-server) ---
# Airflow stores a triggered run's conf (dag_run.conf) and logs the request (the audit log) in its
# own database, where an erasure cannot reach. The form has no parameter that takes an address, but
# the REST API takes any conf: a trigger or backfill of the onboarding Dag whose conf holds one is
# answered 400 here, before Airflow's route (its access check and audit log) sees the request.
# Then, for a user who may run the Dag, the conf is checked as the run's first task would check it
# (a resend without its reference, a reference unknown or of another cohort, a kind the cohort does
# not send, an As of that is no date): refused 400 with the reason, which the trigger form shows
# her, before the run exists; a failed run would tell the data team, in a log, hours later.
_RUN_POSTS = re.compile(rf"/api/v2/(dags/{DAG_ID}/dagRuns|backfills(/dry_run)?)/?$")


class NoAddressInRunConf:
    """ASGI middleware: refuse a run's conf holding an address (``onboarding.run.address_in``), or
    one its run would refuse (``onboarding.run.refusal``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not _RUN_POSTS.search(scope["path"]):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)  # the client went away: Airflow's to handle
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        conf = _run_conf(body, backfill="backfills" in scope["path"])
        refused = _address_param(conf)
        if refused:
            response = JSONResponse({"detail": f"conf parameter {refused!r} holds an address: the {DAG_ID} Dag "
                                     "takes none (Airflow would keep it). Erase, suppress or resend on the "
                                     "Onboarding page: POST /onboarding/api/erasures, /suppressions, /resends."},
                                    status_code=400)
            return await response(scope, receive, send)
        reason = await _refusal(scope, conf)
        if reason:
            return await JSONResponse({"detail": reason}, status_code=400)(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


_NO_CONF = object()  # not a trigger of this Dag (not JSON, another Dag's backfill): Airflow's to answer


def _run_conf(body: bytes, backfill: bool) -> Any:
    """The conf of a trigger (``conf``) or backfill (``dag_run_conf``) of the onboarding Dag."""
    import json

    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return _NO_CONF  # not JSON: Airflow refuses it itself
    if not isinstance(data, dict) or (backfill and data.get("dag_id") != DAG_ID):
        return _NO_CONF
    return data.get("dag_run_conf" if backfill else "conf")


def _address_param(conf: Any) -> str | None:
    from onboarding.run import address_in

    return None if conf is _NO_CONF else address_in(conf)


async def _refusal(scope, conf: Any) -> str | None:
    """Why the run of this conf would be refused at its start, asked only for a user who may run the
    Dag: anyone else gets Airflow's own 401 or 403, and learns nothing of the state database."""
    from starlette.concurrency import run_in_threadpool

    if conf is _NO_CONF:
        return None
    try:
        await _run_user(Request(scope))
    except HTTPException:
        return None
    return await run_in_threadpool(_check_conf, conf)


def _check_conf(conf: Any) -> str | None:
    import datetime as dt
    import logging

    from onboarding.cohorts import ConfigError, read_cohort_file
    from onboarding.run import refusal

    try:
        found = read_cohort_file()
    except ConfigError:
        return None  # a broken cohort file: the run reports it (and alerts the data team)

    def owner(reference: str) -> str | None:
        request = _store().resends.get(reference)
        return request["cohort_id"] if request else None

    try:
        return refusal(conf, found, owner, dt.datetime.now(dt.timezone.utc))
    except Exception:  # noqa: BLE001 - the state database unreachable: the run's plan checks again
        logging.getLogger(__name__).exception("the trigger's conf could not be checked; Airflow takes it")
        return None


class OnboardingPlugin(AirflowPlugin):
    name = "onboarding"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "Onboarding"}]
    # The page inside Airflow's UI: a navigation entry that shows /onboarding/ in the UI's frame.
    external_views = [{"name": "Onboarding", "href": f"{PREFIX}/", "url_route": "onboarding",
                       "destination": "nav", "icon": None}]
    fastapi_root_middlewares = [{"middleware": NoAddressInRunConf,
                                 "name": "No address in the onboarding Dag's conf, no run it would refuse"}]
