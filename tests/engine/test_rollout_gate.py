"""The rollout gate under the REAL Pulumi engine (CLI, Automation API, the dynamic provider
process) against the refresh double (tests/fleet/refresh_double.py over HTTP). One stack for the
module; tests run in file order, each starting where the last one left the group."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pulumi import automation as auto

from tests.engine.rollout_stack import (
    GROUP,
    RolloutStack,
    mixed,
    rollout_stack,
    template,
)
from tests.fleet.refresh_double import AwsError

pytestmark = [pytest.mark.integration, pytest.mark.engine]


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolloutStack]:
    with rollout_stack(tmp_path_factory.mktemp("engine-rollout"), "rollout") as stack:
        yield stack


def failed_up(rs: RolloutStack) -> str:
    with pytest.raises(auto.CommandError) as failed:
        rs.up()
    return str(failed.value)


def cause_lines(text: str, start: str) -> list[str]:
    """The lines of the CLI's output that carry the provider's message."""
    return [line.strip() for line in text.splitlines() if start in line]


def test_the_first_up_on_a_group_already_on_its_settings_starts_nothing(rs: RolloutStack) -> None:
    assert rs.started() == []
    assert rs.up().summary.resource_changes == {"same": 3}


def test_a_failed_roll_ends_on_the_previous_version_and_fails_up_with_one_line(
        rs: RolloutStack) -> None:
    rs.aws.broken.append(template("8"))
    rs.roll(template("8"), "8")
    text = failed_up(rs)
    [rid] = rs.started()
    assert "Traceback" not in text, text
    assert 'File "' not in text, text
    lines = cause_lines(text, f"instance refresh {rid} ended RollbackSuccessful")
    assert lines, text
    assert lines[0].endswith(f"replacement failed its health checks; {GROUP} is back on its "
                             "previous launch settings"), lines
    assert rs.aws.groups[GROUP].config == template("7")


def test_a_retry_reports_the_recorded_failure_and_never_adopts_another_refresh(
        rs: RolloutStack) -> None:
    [rid] = rs.started()
    rs.aws.broken.clear()
    # A refresh started by hand, which succeeds: the gate must not take it for the roll.
    rs.aws.start_instance_refresh({"AutoScalingGroupName": GROUP})
    for _ in range(5):
        rs.aws.tick()
    text = failed_up(rs)
    assert cause_lines(text, f"instance refresh {rid} ended RollbackSuccessful"), text
    assert len(rs.started()) == 2  # the retry started nothing


def test_a_retry_after_a_timeout_resumes_the_same_refresh(rs: RolloutStack) -> None:
    rs.roll(template("9"), "9")
    rs.timeout = 0
    text = failed_up(rs)
    rid = rs.started()[-1]
    assert cause_lines(text, f"instance refresh {rid} on {GROUP} is still Pending after 0s "
                             "(webtier:rollout.gateTimeout)"), text
    rs.timeout = 600
    result = rs.up()
    assert result.summary.resource_changes == {"same": 2, "update": 1}
    assert rs.started()[-1] == rid
    assert len(rs.started()) == 3
    assert rs.aws.groups[GROUP].config == template("9")
    assert rs.up().summary.resource_changes == {"same": 3}


def test_mixed_mode_rolls_back_to_the_previous_mixed_policy(rs: RolloutStack) -> None:
    rs.roll(mixed("9", "capacity-optimized"), "9")
    rs.up()
    assert rs.aws.groups[GROUP].config == mixed("9", "capacity-optimized")
    broken = mixed("10", "price-capacity-optimized")
    rs.aws.broken.append(broken)
    rs.roll(broken, "10")
    text = failed_up(rs)
    assert cause_lines(text, "ended RollbackSuccessful"), text
    assert rs.aws.groups[GROUP].config == mixed("9", "capacity-optimized")
    rs.aws.broken.clear()


def test_protected_instances_are_replaced(rs: RolloutStack) -> None:
    for instance in rs.aws.groups[GROUP].instances:
        instance.protected = True
    rs.preferences = {**rs.preferences, "ScaleInProtectedInstances": "Refresh"}
    rs.roll(mixed("11", "capacity-optimized"), "11")
    rs.up()
    assert all(i.config == mixed("11", "capacity-optimized") and i.protected
               for i in rs.aws.groups[GROUP].instances)


@pytest.mark.parametrize(("code", "message", "cause"), [
    ("ExpiredToken", "The security token included in the request is expired",
     f"the AWS session expired (ExpiredToken) while starting an instance refresh on {GROUP}"),
    ("Throttling", "Rate exceeded",
     f"AWS throttled the calls (Throttling) while starting an instance refresh on {GROUP}"),
])
def test_aws_errors_fail_up_with_a_one_line_cause(rs: RolloutStack, code: str, message: str,
                                                  cause: str) -> None:
    rs.aws.faults["StartInstanceRefresh"] = [AwsError(code, message)]
    rs.roll(mixed(f"2{len(rs.started())}", "capacity-optimized"), f"2{len(rs.started())}")
    text = failed_up(rs)
    assert "Traceback" not in text, text
    assert "botocore" not in text, text
    assert cause_lines(text, cause), text
    rs.up()  # the fault is spent: the retry starts the refresh and passes
