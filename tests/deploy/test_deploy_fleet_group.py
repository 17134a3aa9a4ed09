"""Which nodes a push waits for: the stack's Auto Scaling groups' InService instances, asked of a
real moto server (DescribeAutoScalingGroups), joined to Consul's view (the in-memory double);
AWS's refusals (access denied, throttling) through botocore's Stubber, and an unreachable
endpoint through the real CLI: one line, exit 1, nothing written."""

from __future__ import annotations

import io
import uuid
from typing import Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from components.consul.client import ConsulClient
from deploy.canary import Clock, wait_for_release
from deploy.cli import main
from deploy.fleet_group import GroupError, InService, autoscaling_client, in_service
from deploy.fleet_status import MISSING, NOT_IN_SERVICE, FleetView
from tests.deploy.fake_consul import FakeConsul

REGION = "ap-northeast-1"


def make_group(moto: str, name: str, size: int) -> list[str]:
    """A group as `pulumi up` names it, launched to ``size`` instances by moto."""
    ec2 = boto3.client("ec2", endpoint_url=moto, region_name=REGION)
    asg = boto3.client("autoscaling", endpoint_url=moto, region_name=REGION)
    template = f"lt-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=5, DesiredCapacity=size,
        LaunchTemplate={"LaunchTemplateName": template}, AvailabilityZones=[f"{REGION}a"])
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return sorted(i["InstanceId"] for i in groups[0]["Instances"])


@pytest.fixture
def moto(moto_server: str) -> str:
    # One server per session: groups of earlier tests are there too, under other apps' names.
    return moto_server


def test_in_service_is_the_stack_groups_instances_named_as_consul_names_them(moto: str) -> None:
    app = f"a{uuid.uuid4().hex[:8]}"
    ours = make_group(moto, f"{app}-staging-fleet-20260101", 2)
    make_group(moto, f"{app}-production-fleet-20260101", 1)  # the other stack: not ours
    found = in_service(autoscaling_client(REGION, moto), app, "staging")
    assert found.groups == (f"{app}-staging-fleet-20260101",)
    assert found.nodes == {f"{app}-staging-{i}" for i in ours}


def test_an_instance_in_standby_is_not_in_service(moto: str) -> None:
    app = f"a{uuid.uuid4().hex[:8]}"
    group = f"{app}-staging-fleet-x"
    first, second = make_group(moto, group, 2)
    asg = boto3.client("autoscaling", endpoint_url=moto, region_name=REGION)
    asg.enter_standby(AutoScalingGroupName=group, InstanceIds=[first],
                      ShouldDecrementDesiredCapacity=True)
    assert in_service(autoscaling_client(REGION, moto), app, "staging").nodes == {
        f"{app}-staging-{second}"}


def test_no_group_of_the_stack_is_one_line_naming_the_prefix(moto: str) -> None:
    with pytest.raises(GroupError) as caught:
        in_service(autoscaling_client(REGION, moto), "nosuchapp", "staging")
    assert str(caught.value).startswith("no Auto Scaling group named nosuchapp-staging-fleet-* ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_aws_refusing_is_one_line_naming_the_permission(code: str) -> None:
    client = boto3.client("autoscaling", region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stub:
        stub.add_client_error("describe_auto_scaling_groups", code, "not today")
        with pytest.raises(GroupError) as caught:
            in_service(client, "webapp", "staging")
    message = str(caught.value)
    assert f"DescribeAutoScalingGroups failed: {code}: not today" in message
    assert "autoscaling:DescribeAutoScalingGroups" in message
    assert "\n" not in message


def entry(node: str, status: str) -> dict[str, Any]:
    return {"Node": {"Node": node, "Meta": {"environment": "prod", "app": "shop"}},
            "Checks": [{"Status": status, "Output": ""}]}


def test_the_view_ignores_a_failed_node_out_of_the_group_once_and_names_a_missing_one() -> None:
    consul = FakeConsul()
    consul.health = [entry("shop-prod-i-1", "passing"), entry("shop-prod-i-gone", "critical")]
    said: list[str] = []
    group = InService(("shop-prod-fleet-x",), frozenset({"shop-prod-i-1", "shop-prod-i-new"}))
    view = FleetView(cast(ConsulClient, consul), "shop/prod", "shop", "prod", lambda: group,
                     said.append)
    first = {n.node: n.health for n in view.nodes()}
    view.nodes()
    assert first == {"shop-prod-i-1": "passing", "shop-prod-i-gone": NOT_IN_SERVICE,
                     "shop-prod-i-new": MISSING}
    assert said == ["ignoring shop-prod-i-gone: Consul lists it critical, but "
                    "shop-prod-fleet-x does not hold it InService"]


def test_a_wait_passes_over_the_node_out_of_the_group_and_times_out_naming_the_missing_one(
        ) -> None:
    consul = FakeConsul()
    consul.health = [entry("shop-prod-i-1", "passing"), entry("shop-prod-i-gone", "critical")]
    consul.set("shop/prod/deploy/shop/nodes/shop-prod-i-1", '{"release": "r2"}')
    t = [0.0]
    clock = Clock(lambda: t[0], lambda s: t.__setitem__(0, t[0] + s))
    members = {"shop-prod-i-1"}
    view = FleetView(cast(ConsulClient, consul), "shop/prod", "shop", "prod",
                     lambda: InService(("g",), frozenset(members)))
    assert wait_for_release("r2", fleet=view.nodes, clock=clock, timeout=30).ok
    members.add("shop-prod-i-new")  # InService, never registered in Consul
    late = wait_for_release("r2", fleet=view.nodes, clock=clock, timeout=30)
    assert not late.ok
    assert [n.node for n in late.failing] == ["shop-prod-i-new"]


def test_the_cli_refuses_before_any_write_when_auto_scaling_cannot_be_reached(
        tmp_path: Any) -> None:
    release = tmp_path / "r"
    release.mkdir()
    (release / "index.html").write_text("hi")
    consul = "127.0.0.1:1"  # never reached: the group is asked first
    err = io.StringIO()
    code = main(["push", "--stack", "staging", "--bucket", "acme-rel", "--region", REGION,
                 "--consul-addr", consul, "--timeout", "5", str(release)],
                env={"AWS_ENDPOINT_URL_AUTOSCALING": "http://127.0.0.1:1",
                     "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
                out=io.StringIO(), err=err)
    assert code == 1, err.getvalue()
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "could not ask Auto Scaling which instances of webapp-staging are in service" in lines[0]
    assert "the deploy pointer was not changed" in lines[0]
