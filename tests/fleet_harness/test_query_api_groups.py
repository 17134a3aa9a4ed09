"""The Auto Scaling double's DescribeAutoScalingGroups held to the real thing: botocore parses
its answer with the service's own model and Stubber validates it (every member the model
requires, of the right type); its members are ones moto (the emulator) answers too; and the
deploy's lookup reads from it exactly the lifecycle double's InService instances. Without a
fleet."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.parsers import QueryParser
from botocore.stub import Stubber

from deploy.fleet_group import in_service
from tests.fleet_harness.lifecycle_double import Instance, LifecycleDouble
from tests.fleet_harness.query_api import describe_groups

GROUP, OTHER = "webapp-staging-fleet-asg", "webapp-production-fleet-asg"
REGION = "ap-northeast-1"


def client() -> Any:
    return boto3.client("autoscaling", region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def answer(states: dict[str, str], params: dict[str, str] | None = None) -> dict[str, Any]:
    double = LifecycleDouble(GROUP, "launch", "terminate")
    for i, state in states.items():
        double.instances[i] = Instance(i, state, "InService")
    xml = describe_groups(double, [OTHER], f"{REGION}a", params or {}, "rid")
    shape = client().meta.service_model.operation_model("DescribeAutoScalingGroups").output_shape
    parsed: dict[str, Any] = QueryParser().parse(
        {"body": xml.encode(), "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


STATES = {"i-1": "InService", "i-2": "Pending:Wait", "i-3": "Warmed:Pending:Wait",
          "i-4": "Terminated", "i-5": "Terminating:Wait"}


def test_the_answer_is_valid_for_the_services_model_and_the_lookup_reads_in_service() -> None:
    c = client()
    with Stubber(c) as stub:
        stub.add_response("describe_auto_scaling_groups", answer(STATES))  # validates
        found = in_service(c, "webapp", "staging")
    assert found.groups == (GROUP,)
    assert found.nodes == {"webapp-staging-i-1"}


def test_pooled_and_terminated_instances_are_not_listed_and_names_select_groups() -> None:
    groups = answer(STATES)["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in groups] == [GROUP, OTHER]
    assert {i["InstanceId"]: i["LifecycleState"] for i in groups[0]["Instances"]} == {
        "i-1": "InService", "i-2": "Pending:Wait", "i-5": "Terminating:Wait"}
    assert groups[1]["Instances"] == []
    only = answer(STATES, {"AutoScalingGroupNames.member.1": OTHER})["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in only] == [OTHER]


def test_every_member_the_double_answers_moto_answers_too(moto_server: str) -> None:
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    asg = boto3.client("autoscaling", endpoint_url=moto_server, region_name=REGION)
    ec2.create_launch_template(LaunchTemplateName="conformance", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName="conformance-fleet-x", MinSize=1, MaxSize=1, DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "conformance"}, AvailabilityZones=[f"{REGION}a"])
    real = asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["conformance-fleet-x"])["AutoScalingGroups"][0]
    ours = answer({"i-1": "InService"})["AutoScalingGroups"][0]
    assert set(ours) <= set(real), set(ours) - set(real)
    assert set(ours["Instances"][0]) <= set(real["Instances"][0])
    assert real["Instances"][0]["LifecycleState"] == "InService"
