"""The approval request as an Airflow task: Airflow's human-in-the-loop operator, one task
instance per cohort, stage and approver each night (docs/journeys/index.md, "How an approver answers").

The approver answers under Browse > Required Actions (or through the REST API): they tick the
customers they approve and write one ``address: reason`` line under *Reject* for each customer
they reject. The answer is recorded in the state database the moment it arrives (``decisions``
with their author), and the next nightly run moves those customers on. Nobody waits on it: the
request lives in a run of the ``onboarding_approvals`` Dag (the nightly run triggers it and ends),
has no downstream task, and closes unanswered, deciding nothing, before the next night's run
(``response_timeout``), whose own request lists whoever still waits.
"""
from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param

from onboarding.decisions.approvals import NOBODY

REJECT_HELP = ("One line per customer to reject: their address, a colon, and the reason they are told "
               "(ann@example.com: the team size is missing). Leave empty to reject nobody.")


class ApprovalRequestOperator(HITLOperator):
    """One approval request (a row of ``approval_requests``) for a person to answer."""

    # The request's subject and body hold customers' names: data, never a template.
    template_fields = ()

    def __init__(self, *, request: dict[str, Any], **kwargs: Any) -> None:
        # ``request`` names the request (run, cohort, stage, approver): the XCom that maps the
        # tasks stays small whatever the list's length; its text and options are read from the
        # state database when the task runs and again when the answer comes back.
        # The DAG's own params (the trigger form) are not the approver's: the form is ``reject``.
        kwargs.pop("params", None)
        super().__init__(subject=request.get("subject") or "approval request", body=request.get("body"),
                         options=[*request.get("options", ()), NOBODY], multiple=True, defaults=[],
                         params={"reject": Param(None, type=["null", "string"], format="multiline", title="Reject",
                                                 description=REJECT_HELP)},
                         **kwargs)
        self.request = request

    def _load(self) -> dict[str, Any]:
        from onboarding.airflow_tasks import approval_request, approval_respondents, label_approval

        full = approval_request(self.request)
        self.subject, self.body, self.options = full["subject"], full["body"], [*full["options"], NOBODY]
        # A team's request is addressed to its members: Airflow lets only them answer it.
        self.assigned_users = approval_respondents(full)
        label_approval(self.request)
        return full

    def execute(self, context):
        self._load()
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        from onboarding.airflow_tasks import record_approvals, request_label

        full = self._load()
        answer = super().execute_complete(context, event)
        return {**record_approvals(full, answer, context, label=request_label(self.request)),
                "chosen": len(answer["chosen_options"])}
