"""The approval request as an Airflow task: Airflow's human-in-the-loop operator, one task
instance per cohort, stage and approver each night (README, "Journeys: approvals").

The approver answers under Browse > Required Actions (or through the REST API): they tick the
customers they approve and write one ``address: reason`` line under *Reject* for each customer
they reject. The answer is recorded in the state database the moment it arrives (``decisions``
with their author), and the next nightly run moves those customers on. Nobody waits on it: the
request has no downstream task, and it closes unanswered, deciding nothing, before the next
night's run (``response_timeout``), whose own request lists whoever still waits.
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
        # The DAG's own params (the trigger form) are not the approver's: the form is ``reject``.
        kwargs.pop("params", None)
        super().__init__(subject=request["subject"], body=request["body"], options=[*request["options"], NOBODY],
                         multiple=True, defaults=[],
                         params={"reject": Param(None, type=["null", "string"], format="multiline", title="Reject",
                                                 description=REJECT_HELP)},
                         **kwargs)
        self.request = request

    def execute(self, context):
        from onboarding.airflow_tasks import label_approval

        label_approval(self.request)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        from onboarding.airflow_tasks import label_approval, record_approvals

        label_approval(self.request)
        answer = super().execute_complete(context, event)
        return {**record_approvals(self.request, answer, context), "chosen": len(answer["chosen_options"])}
