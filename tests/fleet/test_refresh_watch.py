"""What an operator reads from the refresh watch and the AWS error mapping: progress lines,
failure verdicts and one-line causes, compared whole. The loop itself runs against the refresh
double in tests/fleet/test_rollout_gate.py."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from components.fleet.aws_causes import cause
from components.fleet.refresh_watch import failure, progress

GROUP = "webapp-staging-fleet-1"


def refresh(status: str, **extra: Any) -> dict[str, Any]:
    return {"InstanceRefreshId": "r-1", "Status": status, **extra}


def test_progress_of_a_pending_refresh_without_counts_yet() -> None:
    assert progress(refresh("Pending")) == ("instance refresh r-1: Pending, 0% done, "
                                            "? instance(s) to update")


def test_progress_with_counts() -> None:
    line = progress(refresh("InProgress", PercentageComplete=40, InstancesToUpdate=3))
    assert line == "instance refresh r-1: InProgress, 40% done, 3 instance(s) to update"


@pytest.mark.parametrize(("status", "verdict"), [
    ("RollbackSuccessful", f"{GROUP} is back on its previous launch settings"),
    ("Failed", f"{GROUP} keeps its previous launch settings; instances already replaced stay "
               "on the new ones until the next refresh"),
    ("Cancelled", f"{GROUP} keeps its previous launch settings"),
])
def test_failure_says_where_the_group_is_left(status: str, verdict: str) -> None:
    assert failure(refresh(status, StatusReason="Alarm x in ALARM\nmore"), GROUP) == \
        f"instance refresh r-1 ended {status}: Alarm x in ALARM; {verdict}"


@pytest.mark.parametrize("reason", [None, ""])
def test_failure_without_a_reason_says_aws_gave_none(reason: str | None) -> None:
    r = refresh("RollbackFailed") if reason is None else refresh("RollbackFailed",
                                                                StatusReason=reason)
    assert failure(r, GROUP).startswith("instance refresh r-1 ended RollbackFailed: AWS gave "
                                        "no reason; ")


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "StartInstanceRefresh")


@pytest.mark.parametrize(("code", "message", "expected"), [
    ("ValidationError", "AutoScalingGroup name not found - g",
     f"Auto Scaling group {GROUP} no longer exists (deleted outside Pulumi?) while starting: "
     "run `pulumi refresh`, then `pulumi up`"),
    ("ExpiredToken", "The security token included in the request is expired",
     f"the AWS session expired (ExpiredToken) while starting on {GROUP}: renew the credentials "
     "(in CI, the role's session length) and run `pulumi up` again; a refresh already started "
     "keeps running and the next `up` resumes it"),
    ("Throttling", "Rate exceeded",
     f"AWS throttled the calls (Throttling) while starting on {GROUP}: raise "
     "webtier:rollout.pollInterval or retry `pulumi up` later"),
    ("AccessDenied", "User: x is not authorized\nsecond line",
     f"the deployer may not do this (AccessDenied) while starting on {GROUP}: User: x is not "
     "authorized"),
    ("ValidationError", "SkipMatching is not supported",
     f"AWS refused starting on {GROUP} (ValidationError): SkipMatching is not supported"),
])
def test_aws_errors_read_as_one_line_causes(code: str, message: str, expected: str) -> None:
    text = cause(client_error(code, message), GROUP, "starting")
    assert text == expected
    assert "\n" not in text


def test_an_unreachable_endpoint_and_a_bug_are_told_apart() -> None:
    unreachable = EndpointConnectionError(endpoint_url="https://autoscaling.example")
    assert cause(unreachable, GROUP, "watching").startswith(
        f"cannot reach AWS while watching on {GROUP}: Could not connect")
    with pytest.raises(KeyError):
        cause(KeyError("a bug is not an AWS error"), GROUP, "watching")


def test_a_request_botocore_refuses_is_named_as_the_gates_own_bug() -> None:
    from botocore.exceptions import ParamValidationError
    err = ParamValidationError(report="Invalid type for parameter X,\n value: 1.0")
    assert cause(err, GROUP, "starting") == (
        f"the gate built a request AWS's API refuses while starting on {GROUP}: Parameter "
        "validation failed: Invalid type for parameter X, value: 1.0")


def test_whole_numbers_from_pulumis_wire_go_to_aws_as_integers() -> None:
    from components.fleet.rollout_start import wire_ints
    sent = wire_ints({"MinHealthyPercentage": 100.0, "CheckpointPercentages": [50.0, 100.0],
                      "AlarmSpecification": {"Alarms": ["a"]}, "Ratio": 0.5, "On": True})
    assert sent == {"MinHealthyPercentage": 100, "CheckpointPercentages": [50, 100],
                    "AlarmSpecification": {"Alarms": ["a"]}, "Ratio": 0.5, "On": True}
    assert type(sent["MinHealthyPercentage"]) is int


def test_a_failed_rollback_says_the_group_may_be_mixed_and_what_to_do() -> None:
    assert failure(refresh("RollbackFailed", StatusReason="x"), GROUP) == (
        f"instance refresh r-1 ended RollbackFailed: x; {GROUP} may run a mix of old and new "
        "instances: start a refresh by hand or fix and run `pulumi up`")


def test_an_end_state_aws_adds_later_is_reported_without_a_verdict() -> None:
    assert failure(refresh("SomethingNew", StatusReason="why"), GROUP) == \
        "instance refresh r-1 ended SomethingNew: why"
