"""Timeouts that add up: each stack's longest `pulumi up` (contracts/deploy_budget.py, from its
settings) fits the AWS session the CI job gets, and the job outlives that session; the group's
own waits cover a launch hook's heartbeat plus the boot."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from contracts.deploy_budget import (
    JOB_OVER_SESSION_SECONDS,
    SESSION_SECONDS,
    up_seconds,
)
from mock_engine import ROOT
from tests.mocks import run_program
from tests.settings.test_settings import parse as settings_of

STACKS = ("staging", "production")


def workflow_job(stack: str) -> dict[str, Any]:
    jobs = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())["jobs"]
    job: dict[str, Any] = jobs[f"up-{stack}"]
    return job


def session_seconds(stack: str) -> int:
    """What the up job's credentials last: the workflow's request, capped by the role."""
    steps = [s for s in workflow_job(stack)["steps"]
             if "configure-aws-credentials" in str(s.get("uses", ""))]
    assert len(steps) == 1, steps
    asked = int(steps[0].get("with", {}).get("role-duration-seconds", SESSION_SECONDS))
    # bootstrap/roles.py creates the deploy roles; read what it sets.
    found = re.findall(r"MaxSessionDuration=(\d+)", (ROOT / "bootstrap/roles.py").read_text())
    assert found, "bootstrap no longer sets the deploy roles' MaxSessionDuration"
    return min(asked, *(int(n) for n in found))


@pytest.mark.parametrize("stack", STACKS)
def test_the_longest_up_fits_the_session_and_the_job_outlives_it(stack: str) -> None:
    s = settings_of(stack, {})
    need = up_seconds(builds_image=s.image.source == "build",
                      gate_timeout=s.rollout.gate_timeout)
    session = session_seconds(stack)
    assert need <= session, (
        f"{stack}: an up may take {need}s (image build, webtier:rollout.gateTimeout "
        f"{s.rollout.gate_timeout}s, margin) but the AWS session lasts {session}s")
    job = int(workflow_job(stack)["timeout-minutes"]) * 60
    assert job >= max(need, session) + JOB_OVER_SESSION_SECONDS, (
        f"up-{stack}: timeout-minutes {job // 60} would kill the runner holding the state lock")


def test_a_longer_gate_timeout_breaks_the_budget() -> None:
    s = settings_of("production", {"webtier:rollout.gateTimeout": 3600})
    assert up_seconds(builds_image=False, gate_timeout=s.rollout.gate_timeout) > \
        session_seconds("production")


@pytest.mark.parametrize("stack", STACKS)
def test_the_groups_waits_cover_a_launch_heartbeat_and_the_boot(stack: str) -> None:
    s = settings_of(stack, {})
    group = next(r for r in run_program(stack).registrations
                 if r.type == "aws:autoscaling/group:Group")
    wait = int(str(group.inputs["waitForCapacityTimeout"]).removesuffix("s"))
    assert wait >= s.rollout.launch_heartbeat_timeout + s.fleet.health_check_grace_period
    timeouts = group.options["customTimeouts"]
    for op in ("create", "update"):
        assert int(str(timeouts[op]).removesuffix("s")) > wait, timeouts
