"""`python -m plan STACK --calibrate` against a recorded-answer double of the account.

moto's DescribeScalingActivities always answers an empty list, so the double is botocore's
Stubber on real boto3 clients: it checks every request's parameters and every recorded answer
against the service models AWS publishes (the same JSON the SDKs are generated from), so an
answer of the wrong shape fails here as it would against AWS. The answers follow AWS's own
example for DescribeScalingActivities (botocore's autoscaling/2011-01-01/examples-1.json: "At
2013-08-19T20:53:25Z a user request created an AutoScalingGroup changing the desired capacity
from 0 to 1. At ... an instance was started ...", Description "Launching a new EC2 instance:
i-4ba0837f", StartTime, EndTime, StatusCode "Successful"); an alarm's cause reads "At <time> a
monitor alarm <name> in state ALARM triggered policy <policy> changing the desired capacity
from 2 to 5." DescribeInstances: Reservations[].Instances[].InstanceId and LaunchTime.
Missing credentials run the real boto3 credential chain, with nothing to find."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from plan import calibrate, cli
from plan import capacity as cap

GROUP = "webapp-staging-fleet-20261201abc"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def activity(instance: str, trigger: float, start: float, end: float | None,
             status: str = "Successful") -> dict[str, Any]:
    return {
        "ActivityId": f"act-{instance}", "AutoScalingGroupName": GROUP,
        "Cause": (f"At {iso(trigger)} a monitor alarm webapp-staging-cpu-high in state ALARM "
                  "triggered policy webapp-staging-scale-out changing the desired capacity "
                  f"from 1 to 2.  At {iso(start)} an instance was started in response to a "
                  "difference between desired and actual capacity, increasing the capacity "
                  "from 1 to 2."),
        "Description": f"Launching a new EC2 instance: {instance}",
        "StartTime": at(start), **({"EndTime": at(end)} if end is not None else {}),
        "StatusCode": status, "Progress": 100 if status == "Successful" else 30,
    }


class Session:
    """A boto3 session whose clients answer from the recorded responses."""

    def __init__(self) -> None:
        self.clients = {name: boto3.client(name, region_name="ap-northeast-1",
                                           aws_access_key_id="x", aws_secret_access_key="x")
                        for name in ("autoscaling", "ec2")}
        self.stubs = {name: Stubber(c) for name, c in self.clients.items()}

    def client(self, name: str) -> Any:
        return self.clients[name]


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session()
    for stub in s.stubs.values():
        stub.activate()
    yield s
    for stub in s.stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def account(s: Session, groups: list[str], activities: list[dict[str, Any]],
            instances: dict[str, float]) -> None:
    s.stubs["autoscaling"].add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [
        {"AutoScalingGroupName": g, "MinSize": 1, "MaxSize": 4, "DesiredCapacity": 1,
         "DefaultCooldown": 300, "AvailabilityZones": ["ap-northeast-1a"],
         "HealthCheckType": "ELB", "CreatedTime": T0} for g in groups]}, {})
    if len([g for g in groups if g.startswith("webapp-staging-fleet-")]) != 1:
        return
    s.stubs["autoscaling"].add_response("describe_scaling_activities",
                                        {"Activities": activities},
                                        {"AutoScalingGroupName": GROUP})
    ids = sorted({a["Description"].split(": ")[1] for a in activities})
    s.stubs["ec2"].add_response("describe_instances", {"Reservations": [{"Instances": [
        {"InstanceId": i, "LaunchTime": at(t)} for i, t in instances.items()]}]},
        {"Filters": [{"Name": "instance-id", "Values": ids}]})


def test_each_step_is_measured_from_the_activities_and_launch_times(session: Session) -> None:
    account(session, [GROUP, "webapp-production-fleet-x"], [
        # Trigger 20 s before the activity; running 40 s later; in service 200 s after that.
        activity("i-0aaa", 0, 20, 260),
        activity("i-0bbb", 600, 610, 910),  # 30 s to running, 270 s of boot: slower
        activity("i-0ccc", 1200, 1210, None, "InProgress"),  # not finished: not measured
    ], {"i-0aaa": 60, "i-0bbb": 640})
    text = cli.calibrate_text("staging", session=session, markdown=True)
    assert text.split("\n")[:6] == [
        f"### Calibration of staging: group {GROUP}, 2 launch(es) in the last six weeks", "",
        "| step | measured: median (min-max, n) | modelled | verdict |", "|---|---|---|---|",
        "| trigger to scaling activity | 15 s (10 s-20 s, n=2) | 0 s-60 s | within the model |",
        "| EC2 launch: activity to instance running | 35 s (30 s-40 s, n=2) | 30 s-120 s | "
        "within the model |"]
    assert text.split("\n")[6] == (
        f"| boot and launch hook: running to app answering (BOOT_SECONDS) | 235 s (200 s-270 s, "
        f"n=2) | {cap.BOOT_SECONDS} s | SLOWER than modelled: raise the assumption |")


def test_a_stack_never_deployed_is_one_line(session: Session) -> None:
    account(session, ["other-app-fleet-1"], [], {})
    with pytest.raises(cli.PlanError, match=r"^no Auto Scaling group named "
                       r"webapp-staging-fleet-\* in this account and region: has the stack been "
                       r"deployed \(`pulumi up`\)\?$"):
        cli.calibrate_text("staging", session=session)


def test_two_groups_of_the_stack_are_named(session: Session) -> None:
    account(session, [GROUP, "webapp-staging-fleet-old"], [], {})
    with pytest.raises(cli.PlanError, match=r"^2 Auto Scaling groups named "
                       r"webapp-staging-fleet-\*: webapp-staging-fleet-20261201abc, "
                       r"webapp-staging-fleet-old; delete the ones left over$"):
        cli.calibrate_text("staging", session=session)


def test_an_access_denied_is_one_line_naming_the_call(session: Session) -> None:
    session.stubs["autoscaling"].add_client_error(
        "describe_auto_scaling_groups", "AccessDenied", "User is not authorized")
    with pytest.raises(cli.PlanError, match=r"^--calibrate: DescribeAutoScalingGroups failed "
                                            r"in ap-northeast-1: AccessDenied: User is not "
                                            r"authorized$"):
        cli.calibrate_text("staging", session=session)


def test_steps_judge_the_median_against_the_modelled_range() -> None:
    launches = [calibrate.Launch("i-1", "t", at(0), at(5), at(300), at(310))]
    found = calibrate.steps(launches)
    assert [(s.samples, s.verdict()) for s in found] == [
        ((5.0,), "within the model"), ((295.0,), "SLOWER than modelled: raise the assumption"),
        ((10.0,), "faster than modelled")]
    assert calibrate.Step("x", (), (0, 1)).verdict() == "no data"


def test_activities_without_a_parsable_cause_keep_their_other_steps() -> None:
    plain = activity("i-0ddd", 0, 10, 300)
    plain["Cause"] = "At some point something happened."
    failed = activity("i-0eee", 0, 10, 20, "Failed")
    found = calibrate.launches([plain, failed, {"Description": "Terminating EC2 instance: i-1",
                                                "StatusCode": "Successful"}],
                               {"i-0ddd": at(50)})
    assert found == [calibrate.Launch("i-0ddd", "unknown", None, at(10), at(50), at(300))]


def test_missing_credentials_exit_2_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup
    assert cli.main(["staging", "--calibrate"]) == 2
    err = capsys.readouterr().err
    assert err == ("plan: --calibrate reads the staging stack's account (ap-northeast-1): no AWS "
                   "credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY\n")
