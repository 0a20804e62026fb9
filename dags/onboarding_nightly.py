"""
### Cohort onboarding, every night

For each cohort in the cohort configuration, this DAG does what the instructor used to do by hand:

1. **extract**: copies the signup export and the onboarding-completion export into the run's
   folder (an immutable copy, so the run can be audited and replayed);
2. **validate**: checks both with Great Expectations. A broken export (missing column, empty
   file, conflicting completion records) stops that cohort: *nothing is sent* and the instructor
   is told why. A bad row (invalid email, missing name, unreadable time) is quarantined and
   reported; the good rows go on;
3. **decide**: joins signups and completions and decides, as of the run's date, who gets a
   **reminder** (not complete, from N days before the deadline), a **cancellation** (not complete
   on time, first run after the deadline) or a **welcome** (complete on time);
4. **send**: sends each due email through the ledger, so nobody ever gets the same email twice,
   even when a run is retried or rerun;
5. **report**: rewrites the instructor's spreadsheet (status, email log, quarantine; a Google
   Sheet when configured, CSV files in the run folder always) and emails her a summary of the
   run: counts, who is late, what was sent, what was quarantined and why.

**Mailbox**: before the cohorts, `mailbox` reads what came back to each sending account since the
last run: a hard bounce suppresses the address, a soft bounce is sent again once the next night,
an unsubscribe mail stops marketing emails; each message is acted on once and the summary says so.

**Journeys** (cohorts whose `journey` is a multi-stage one): `decide` walks each customer through
the stages, places them with a CSM, and makes the night's approval requests; `ask_approvals` hands
them to a run of the `onboarding_approvals` Dag, each an `approve` task there (Browse > Required
Actions): tick whom to approve, one `address: reason` line per rejection. This run does not wait
for the answers, so nobody's rerun or dry run waits on a person. An answer is recorded when given;
the next night acts on it; an unanswered request closes before the next night, deciding nothing.

**Erasure, suppression, resends**: asked for on the Onboarding page (its API), never in this form,
so that no address reaches Airflow's database: an erasure forgets the person at once (rows,
snapshots, reports, approval requests); a resend gets a reference that *Resend reference* names.

**Guards**: before anything is sent, a cohort is *held* (nothing sent, the instructor told,
the task failed) when an export is stale, the completion list shrank sharply since the last
run, or the run would cancel more than the configured share of the cohort.

**Rerunning by hand**: *Trigger DAG* with parameters. `as_of` decides as of another date (a date
alone means that date's nightly run); `dry_run` decides and renders everything and sends nothing
(the summary says what would have gone out); `cohort` limits the run to one cohort.
`release_guards` releases a held run once the exports are checked; `kinds` limits the email kinds;
a reminder is never sent once its deadline has passed (nor after the customer's cancellation or
welcome), whatever date a rerun is as of;
*Resend one email* with its *Resend reference* sends one customer's email again (asked for on the
Onboarding page), with the reason recorded in the ledger. A trigger that makes no sense (a resend
without its reference, a reference of another cohort, a kind the cohort does not send, a date that
is none) is refused by the form's *Trigger* at once, with the reason, before any run exists.
Otherwise a rerun never sends an email that was already sent.

**When something fails**: a task that fails for good (after its retries) emails the data team
once, with the DAG, task, run and a link to its log. A run refused at its start (a conf that
reached it without the form's check, e.g. from the CLI) emails the cohort's instructor too, the
reason in one sentence. Each cohort's `report` task logs a
`RUN SUMMARY` block (decisions and emails per kind, quarantined rows, guards, Gmail errors) and
writes the same to the state database's `run_reports` table; `validate` logs where the run's GX
Data Docs are.
"""
from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task, task_group
from airflow.timetables.trigger import CronTriggerTimetable

from onboarding.approval_operator import ApprovalRequestOperator
from onboarding.cohorts import cohort_choices, cohort_journeys
from onboarding.decisions import FORM_KINDS
from onboarding.decisions.guards import GUARD_TITLES, GUARDS
from onboarding.run import form_kinds_help, nightly_schedule

# The instructor's time zone and the time of the nightly run in it. Overridable per deployment.
NIGHTLY_TZ, NIGHTLY_TIME = nightly_schedule()
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("ONBOARDING_RETRY_DELAY_SECONDS", "120")))
# The trigger form's cohort drop-down (read from the cohort file: YAML only, no connection).
COHORTS = cohort_choices()
# Send tasks of every cohort share this pool: its slots bound how many send at once per account.
GMAIL_POOL = os.environ.get("ONBOARDING_SEND_POOL", "default_pool")
# An approval request closes unanswered (deciding nothing) this long after it is made: before the
# next night's run, which lists whoever still waits.
APPROVAL_WAIT = dt.timedelta(hours=float(os.environ.get("ONBOARDING_APPROVAL_WAIT_HOURS", "20")))
# The grid names each mapped cohort task by its cohort (set by onboarding.airflow_tasks), not 0, 1, 2.
BY_COHORT = "{{ onboarding_cohort }}"
# The Dag holding the approval requests (below): a run of its own per night's requests.
APPROVALS_DAG = "onboarding_approvals"


def alert_data_team(context):
    """A task failed for good (no retries left): email the data team once, with the log link."""
    from onboarding import airflow_tasks

    airflow_tasks.alert_failure(context)


@dag(
    dag_id="onboarding_nightly",
    schedule=CronTriggerTimetable(f"{NIGHTLY_TIME.minute} {NIGHTLY_TIME.hour} * * *", timezone=NIGHTLY_TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=NIGHTLY_TZ),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "onboarding",
        "retries": int(os.environ.get("ONBOARDING_TASK_RETRIES", "3")),
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
        "on_failure_callback": alert_data_team,
    },
    tags=["onboarding", "email"],
    doc_md=__doc__,
    params={
        "cohort": Param("all", type="string", title="Cohort",
                        description="The cohort to run, or all of them.",
                        **({"enum": ["all", *COHORTS], "values_display": {"all": "All cohorts", **COHORTS}}
                           if COHORTS else {})),
        "as_of": Param(None, type=["null", "string"], title="As of",
                       description="Decide as of this date (YYYY-MM-DD: that date's nightly run) or datetime "
                                   "(YYYY-MM-DDTHH:MM, in the instructor's time zone unless it has an offset). "
                                   "Empty: the run's own date.",
                       pattern=r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"),
        "release_guards": Param([], type=["null", "array"], title="Release guards",
                                description="Send although these guards held the run (only after checking the exports; "
                                            "the run records the release). Its summary names the guard that held it.",
                                examples=[*GUARDS, "all"], items={"type": "string", "enum": [*GUARDS, "all"]},
                                values_display=GUARD_TITLES),
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Decide and render every email, send nothing; the summary lists what "
                                     "would have gone out."),
        # Short labels: the chosen ones stand side by side in the field, on a phone too. Empty: every
        # kind of the cohort (a course cohort has no stage emails; picking one for it is refused).
        "kinds": Param([], type=["null", "array"], title="Email kinds",
                       description=form_kinds_help(cohort_journeys()),
                       examples=list(FORM_KINDS), items={"type": "string", "enum": list(FORM_KINDS)},
                       values_display={"reminder": "Reminders", "cancellation": "Cancellations",
                                       "welcome": "Welcomes", "stage": "Stage emails"}),
        # The resend's tick-box and its reference in the form's one section, beside the cohort: a
        # section of their own would fold the cohort away when opened (Airflow opens one at a time).
        "resend": Param(False, type="boolean", title="Resend one email",
                        description="Tick to send one customer's email again (she deleted it, say), then paste "
                                    "its reference below."),
        "resend_request": Param(None, type=["null", "string"], title="Resend reference",
                                description="The reference her page gives: Onboarding, her cohort, her name, "
                                            "Actions, Resend an email (resend- and 16 characters). It names her "
                                            "cohort, so Cohort may stay All cohorts (another cohort is refused). "
                                            "No addresses here: Airflow keeps what this form holds, where an "
                                            "erasure cannot reach. Do not email her and Erase her are buttons "
                                            "on her page too.",
                                pattern=r"^resend-[0-9a-fA-F]{16}$"),
    },
)
def onboarding_nightly():
    # Each task hands its Airflow context to onboarding.airflow_tasks, which does the work. Tasks
    # share what they need through the state database and the run folder, not XCom: they are
    # chained for order only.
    @task
    def plan(**context) -> list[dict]:
        from onboarding import airflow_tasks

        return airflow_tasks.plan(context, NIGHTLY_TZ, NIGHTLY_TIME)

    deciders = []  # the group's decide task, for the approvals to follow it

    @task_group(group_id="cohort")
    def cohort_run(item: dict):
        @task(map_index_template=BY_COHORT)
        def extract(item: dict, **context) -> dict:
            from onboarding import airflow_tasks

            return airflow_tasks.extract(item, context)

        @task(map_index_template=BY_COHORT)
        def validate(item: dict, **context) -> dict:
            from onboarding import airflow_tasks

            return airflow_tasks.validate(item, context)

        @task(map_index_template=BY_COHORT)
        def decide(item: dict, **context) -> dict:
            from onboarding import airflow_tasks

            return airflow_tasks.decide(item, context)

        @task(pool=GMAIL_POOL, map_index_template=BY_COHORT)
        def send(item: dict, **context) -> dict:
            from onboarding import airflow_tasks

            return airflow_tasks.send(item, context)

        @task(trigger_rule="all_done", retries=1, map_index_template=BY_COHORT)
        def report(item: dict, **context) -> dict:
            from onboarding import airflow_tasks

            return airflow_tasks.report(item, context)

        decided = decide(item)
        extract(item) >> validate(item) >> decided >> send(item) >> report(item)
        deciders.append(decided)

    @task
    def mailbox(items: list[dict], **context) -> dict:
        from onboarding import airflow_tasks

        return airflow_tasks.mailbox(items, context)

    @task.short_circuit(trigger_rule="all_done")
    def approval_requests(items: list[dict], **context) -> int:
        from onboarding import airflow_tasks

        return len(airflow_tasks.approval_requests(items, context))

    @task
    def housekeeping(**context) -> dict:
        from onboarding import airflow_tasks

        return airflow_tasks.housekeeping(context)

    # Housekeeping (old run folders past their retention) runs beside the cohorts, not after them:
    # the cohorts' report tasks stay the run's last tasks, so a held or failed cohort fails the run.
    # The mailbox (bounces, unsubscribe mails since the last run) is read before any cohort decides,
    # so an address that bounced last night gets nothing tonight.
    # A journey's approvals: once every cohort has decided, the night's requests (if any) go to a
    # run of onboarding_approvals, triggered and not waited for: this run ends without the
    # answers, so an unanswered request never holds the next night or a rerun (max_active_runs=1
    # counts only this Dag's runs). They follow the decide tasks, not the reports, so each
    # cohort's report stays a last task of the run. The conf names the run, never a person.
    cohorts = plan()
    runs = cohort_run.expand(item=cohorts)
    mailbox(cohorts) >> runs
    asks = approval_requests(cohorts)
    deciders[0] >> asks
    asks >> TriggerDagRunOperator(
        task_id="ask_approvals", trigger_dag_id=APPROVALS_DAG, trigger_run_id="approvals__{{ run_id }}",
        # One approvals run per nightly run: dated when the nightly run was asked for (unique
        # per nightly run, as the Dag's logical date must be); a retry finds it made already.
        logical_date="{{ dag_run.run_after.isoformat() }}", conf={"nightly_run_id": "{{ run_id }}"},
        wait_for_completion=False, skip_when_already_exists=True, retries=1)
    cohorts >> housekeeping()


onboarding_nightly()


APPROVALS_DOC = """
### Approval requests of a nightly run

Triggered by `onboarding_nightly` (its `ask_approvals` task) once its cohorts have decided, one
run per nightly run that made requests. `approval_requests` lists them from the state database
and each becomes an **`approve`** task (Browse > Required Actions): one per cohort, stage and
approver. Tick whom to approve, one `address: reason` line under *Reject* per rejection. The
answer is recorded in the state database when given and the next night acts on it; a request
unanswered after `ONBOARDING_APPROVAL_WAIT_HOURS` closes, deciding nothing (the next night lists
whoever still waits). Many of these runs may wait at once: none holds the nightly Dag.
"""


@dag(
    dag_id=APPROVALS_DAG,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=NIGHTLY_TZ),
    catchup=False,
    # Each night's requests wait in their own run; a slow approver never queues the next night's.
    max_active_runs=int(os.environ.get("ONBOARDING_APPROVAL_RUNS", "64")),
    # Unpaused from the start: triggered runs of a paused Dag would sit queued, asking nobody.
    is_paused_upon_creation=False,
    default_args={"owner": "onboarding", "retries": 1, "retry_delay": RETRY_DELAY,
                  "on_failure_callback": alert_data_team},
    tags=["onboarding", "approvals"],
    doc_md=APPROVALS_DOC,
    params={"nightly_run_id": Param("", type="string", title="Nightly run",
                                    description="The onboarding_nightly run whose approval requests to ask.")},
)
def onboarding_approvals():
    @task
    def approval_requests(**context) -> list[dict]:
        from onboarding import airflow_tasks

        return airflow_tasks.approval_requests_of(context["params"]["nightly_run_id"])

    ApprovalRequestOperator.partial(task_id="approve", response_timeout=APPROVAL_WAIT,
                                    map_index_template=BY_COHORT).expand(request=approval_requests())


onboarding_approvals()
