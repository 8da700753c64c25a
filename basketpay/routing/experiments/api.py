"""Routes under /v1/routing/experiments: start one (arms, shares, the sample size fixed in
advance, the guardrail), read its report, stop it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request

from basketpay.api import docs
from basketpay.api.dependencies import MerchantId, services
from basketpay.payments.schemas import OBJECT_ID_PATTERN
from basketpay.routing.experiments.schemas import ExperimentCreate
from basketpay.routing.experiments.service import Experiment
from basketpay.routing.experiments.stats import ArmOutcomes, evaluate, report

router = APIRouter(prefix="/v1/routing/experiments", tags=["routing"])
EXPERIMENT_ID = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="An experiment id, exp_…")]


def experiment_report(experiment: Experiment, outcomes: dict[str, ArmOutcomes]) -> dict[str, Any]:
    """Every arm's figures, and each treatment against the control at the planned size."""
    control = outcomes[experiment.control.name]
    return {
        "object": "routing_experiment", "id": experiment.id, "name": experiment.name, "status": experiment.status,
        "unit": experiment.unit, "planned_sample_size": experiment.planned_sample_size,
        "created": int(experiment.created_at.timestamp()), "control": experiment.control.name,
        "arms": [{"name": arm.name, "share": arm.share, "config": arm.raw,
                  "stopped": experiment.stopped_arms.get(arm.name),
                  "report": asdict(report(outcomes[arm.name]))} for arm in experiment.arms],
        "comparisons": [{"arm": arm.name, **asdict(evaluate(control, outcomes[arm.name],
                                                            experiment.planned_sample_size))}
                        for arm in experiment.arms[1:]],
    }


@router.post("", responses=docs.WRITE, summary="Start a routing experiment (one running per merchant)")
async def create_experiment(request: Request, merchant: MerchantId,
                            params: Annotated[ExperimentCreate, Body()]) -> dict[str, Any]:
    experiment = await services(request).experiments.create(merchant, params)
    return experiment_report(*await services(request).experiments.get(merchant, experiment.id))


@router.get("/{experiment_id}", responses=docs.READ, summary="An experiment's report: rates, cost, latency, the test")
async def get_experiment(request: Request, merchant: MerchantId, experiment_id: EXPERIMENT_ID) -> dict[str, Any]:
    return experiment_report(*await services(request).experiments.get(merchant, experiment_id))


@router.post("/{experiment_id}/stop", responses=docs.WRITE, summary="Stop it: every payment routes by the "
             "merchant's configuration again")
async def stop_experiment(request: Request, merchant: MerchantId, experiment_id: EXPERIMENT_ID) -> dict[str, Any]:
    await services(request).experiments.stop(merchant, experiment_id)
    return experiment_report(*await services(request).experiments.get(merchant, experiment_id))
