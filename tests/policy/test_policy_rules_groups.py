"""The Auto Scaling group rules called directly on stack resources built as the analyzer builds them
(policy/offline.py): which properties link a group to its templates, load balancers, subnets,
alarms and policies, and the exact message of each finding."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import PolicyResource

from policy import rules
from policy.offline import UNKNOWN, depend, policy_resource
from policy.rules import group as group_rules
from policy.rules import values

GROUP, LT = rules.GROUP, rules.LAUNCH_TEMPLATE
AZ_A, AZ_C, AZ_D = "ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"


def asg(name: str = "web", **props: Any) -> PolicyResource:
    return policy_resource(GROUP, {"name": name, **props}, name=f"{name}-group")


def template(name: str, instance_tags: dict[str, str]) -> PolicyResource:
    specs = [{"resourceType": "instance", "tags": instance_tags}]
    return policy_resource(LT, {"id": f"lt-{name}", "name": name, "tagSpecifications": specs},
                           name=name)


# --- launch template version ---------------------------------------------------------------

def test_version_empty_string_is_not_set() -> None:
    assert rules.explicit_template_version(GROUP, {"launchTemplate": {"version": ""}}) == [
        "launchTemplate.version is not set, so the group launches $Default, which can change "
        "outside this program: pin the version number"]


def test_version_unknown_on_one_spec_does_not_hide_the_other() -> None:
    props = policy_resource(GROUP, {
        "launchTemplate": {"id": "lt-1", "version": UNKNOWN},
        "mixedInstancesPolicy": {"launchTemplate": {"launchTemplateSpecification": {
            "launchTemplateId": "lt-1", "version": "$Default"}}}}, name="g").props
    assert rules.explicit_template_version(GROUP, props) == [
        "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version is '$Default': "
        "pin a version number (not $Latest or $Default) so a launch template change is a "
        "reviewed group update"]


# --- ELB health checks ---------------------------------------------------------------------

def elb_message(check: str) -> str:
    return (f"healthCheckType is {check!r} but the group is behind a load balancer: set it to "
            "\"ELB\" so instances the load balancer finds unhealthy are replaced")


def test_each_load_balancer_property_alone_puts_a_group_behind_one() -> None:
    for prop, value in (("targetGroupArns", ["arn:tg"]), ("loadBalancers", ["classic-lb"]),
                        ("trafficSources", [{"identifier": "arn:tg", "type": "elbv2"}])):
        group = asg(**{prop: value})
        assert rules.elb_health_check([group]) == [(elb_message("EC2"), group.urn)], prop


def test_empty_load_balancer_lists_do_not_put_a_group_behind_one() -> None:
    group = asg(targetGroupArns=[], loadBalancers=[], trafficSources=[], healthCheckType="EC2")
    assert rules.elb_health_check([group]) == []


def test_count_agrees_with_the_items_a_property_lists() -> None:
    for value in (None, [], ["a", "b"], "arn:tg", {"identifier": "x"}, 7):
        assert group_rules._count(value) == len(values.items(value)), value


def test_every_group_is_checked_after_one_not_behind_a_load_balancer() -> None:
    alone, behind = asg("alone"), asg("behind", targetGroupArns=["arn:tg"], healthCheckType="EC2")
    assert rules.elb_health_check([alone, behind]) == [(elb_message("EC2"), behind.urn)]


def test_a_health_check_list_including_elb_passes() -> None:
    group = asg(targetGroupArns=["arn:tg"], healthCheckType="EC2,elb")
    assert rules.elb_health_check([group]) == []


# --- availability zones --------------------------------------------------------------------

def test_network_config_reads_both_subnet_lists_and_skips_incomplete_entries() -> None:
    network = {"fleetSubnets": [{"id": "subnet-a", "az": AZ_A}, {"az": AZ_D}, "subnet-x"],
               "loadBalancerSubnets": [{"id": "subnet-c", "az": AZ_C}, {"id": "subnet-d"}]}
    assert rules.subnet_azs_from_network_config(json.dumps(network)) == {
        "subnet-a": AZ_A, "subnet-c": AZ_C}


def test_a_stack_subnet_without_a_known_zone_is_reported_not_assumed() -> None:
    subnet = policy_resource(rules.SUBNET, {"id": "subnet-a"}, name="subnet-a")
    group = asg(vpcZoneIdentifiers=["subnet-a"])
    assert rules.multi_az([subnet, group], minimum=1) == [(
        "cannot verify the availability zone of subnet(s) subnet-a: not an aws:ec2/subnet in "
        "this stack, not in webtier:network, not in the policy's subnetAvailabilityZones",
        group.urn)]


def test_unmapped_subnets_are_all_named_and_later_groups_still_checked() -> None:
    lost = asg("lost", vpcZoneIdentifiers=["subnet-x", "subnet-y"])
    single = asg("single", vpcZoneIdentifiers=["subnet-a"])
    assert rules.multi_az([lost, single], subnet_azs={"subnet-a": AZ_A}) == [
        ("cannot verify the availability zone of subnet(s) subnet-x, subnet-y: not an "
         "aws:ec2/subnet in this stack, not in webtier:network, not in the policy's "
         "subnetAvailabilityZones", lost.urn),
        (f"the group spans 1 availability zone(s) ({AZ_A}); at least 2 are required so it "
         "survives the loss of a zone", single.urn),
    ]


def test_zones_named_on_the_group_add_to_its_subnets_zones() -> None:
    group = asg(availabilityZones=[AZ_A], vpcZoneIdentifiers=["subnet-c"])
    assert rules.multi_az([group], subnet_azs={"subnet-c": AZ_C}) == []
    assert rules.multi_az([asg(availabilityZones=[AZ_A, AZ_C])]) == []


def test_short_of_the_minimum_lists_the_zones_or_none() -> None:
    two, empty = asg("two", availabilityZones=[AZ_C, AZ_A]), asg("empty")
    assert rules.multi_az([two, empty], minimum=3) == [
        (f"the group spans 2 availability zone(s) ({AZ_A}, {AZ_C}); at least 3 are required so "
         "it survives the loss of a zone", two.urn),
        ("the group spans 0 availability zone(s) (none); at least 3 are required so it survives "
         "the loss of a zone", empty.urn),
    ]


# --- tags at launch ------------------------------------------------------------------------

def tags_message(missing: str) -> str:
    return (f"tag(s) {missing} do not reach the instances: give the group these tags with "
            "propagateAtLaunch true, or put them in the launch template's tagSpecifications for "
            "resourceType \"instance\"")


def test_tags_missing_are_all_named() -> None:
    group = asg(tags=[{"key": "Name", "value": "web", "propagateAtLaunch": False}])
    assert rules.launch_tags([group], required=["Name", "team"]) == [
        (tags_message("Name, team"), group.urn)]


def test_group_tags_and_template_tags_add_up() -> None:
    group = asg(tags=[{"key": "team", "value": "web", "propagateAtLaunch": True}],
                launchTemplate={"id": "lt-web", "version": "1"})
    found = rules.launch_tags([group, template("web", {"Name": "web"})], required=["Name", "team"])
    assert found == []


def test_a_template_is_found_by_each_reference_a_group_can_hold() -> None:
    web = template("web", {"Name": "web"})
    refs = [{"launchTemplate": {"name": "web"}},
            {"mixedInstancesPolicy": {"launchTemplate": {"launchTemplateSpecification": {
                "launchTemplateId": "lt-web"}}}},
            {"mixedInstancesPolicy": {"launchTemplate": {"launchTemplateSpecification": {
                "launchTemplateName": "web"}}}}]
    for ref in refs:
        assert rules.launch_tags([asg(**ref), web]) == [], ref
        other = template("other", {"Name": "other"})
        group = asg(**json.loads(json.dumps(ref).replace("web", "nope")))
        assert rules.launch_tags([group, other]) == [(tags_message("Name"), group.urn)], ref


def test_only_the_template_a_group_names_lends_it_tags() -> None:
    group = asg(launchTemplate={"id": "lt-bare", "version": "1"})
    found = rules.launch_tags([group, template("bare", {}), template("tagged", {"Name": "x"})])
    assert found == [(tags_message("Name"), group.urn)]


def test_a_template_linked_only_by_dependency_lends_its_tags() -> None:
    web = template("web", {"Name": "web"})
    group = depend(asg(launchTemplate={"id": UNKNOWN, "version": "1"}), "launchTemplate", web)
    assert rules.launch_tags([group, web]) == []


def test_propagated_tags_need_no_template_even_when_it_is_unknown() -> None:
    group = asg(tags=[{"key": "Name", "value": "web", "propagateAtLaunch": True}],
                launchTemplate={"id": UNKNOWN, "version": "1"})
    assert rules.launch_tags([group]) == []


# --- alarms --------------------------------------------------------------------------------

def policy_of(name: str, group_name: Any) -> PolicyResource:
    arn = (f"arn:aws:autoscaling:ap-northeast-1:123456789012:scalingPolicy:1:"
           f"autoScalingGroupName/{group_name}:policyName/{name}")
    return policy_resource(rules.SCALING_POLICY, {"autoscalingGroupName": group_name, "arn": arn,
                                                  "name": name}, name=name)


def alarm(name: str, actions: list[str], **props: Any) -> PolicyResource:
    return policy_resource(rules.METRIC_ALARM, {"alarmActions": actions, **props}, name=name)


def test_an_alarm_on_a_metric_query_is_held_to_its_group() -> None:
    web, batch = asg("web"), asg("batch")
    out = policy_of("batch-out", "batch")
    query = {"id": "m1", "metric": {"metricName": "CPUUtilization",
                                    "dimensions": {"AutoScalingGroupName": "web"}}}
    high = alarm("web-high", [out.props["arn"]], metricQueries=[query])
    assert rules.alarms_act_on_own_group([web, batch, out, high]) == [
        ("alarmActions includes scaling policy batch-out of another group: an alarm must scale "
         "the group it watches", high.urn)]


def test_a_policy_linked_by_dependency_matches_an_alarm_linked_by_name() -> None:
    web = asg("web")
    arn = policy_of("web-out", "web").props["arn"]
    out = depend(policy_resource(rules.SCALING_POLICY, {"autoscalingGroupName": UNKNOWN,
                                                        "arn": arn}, name="web-out"),
                 "autoscalingGroupName", web)
    high = alarm("web-high", [arn], dimensions={"AutoScalingGroupName": "web"})
    assert rules.alarms_act_on_own_group([web, out, high]) == []


def test_an_alarm_on_a_group_outside_the_stack_may_use_that_groups_policy() -> None:
    out = policy_of("legacy-out", "legacy")
    high = alarm("legacy-high", [out.props["arn"]], dimensions={"AutoScalingGroupName": "legacy"})
    assert rules.alarms_act_on_own_group([out, high]) == []


def test_every_alarm_is_checked_after_one_not_on_a_group() -> None:
    lb = alarm("lb-5xx", ["arn:sns"], dimensions={"LoadBalancer": "app/web/1"})
    high = alarm("web-high", ["arn:aws:sns:ap-northeast-1:1:ops"],
                 dimensions={"AutoScalingGroupName": "web"})
    assert rules.alarms_act_on_own_group([asg("web"), lb, high]) == [
        ("the alarm watches an Auto Scaling group but none of its alarmActions is a scaling "
         "policy: point it at a policy of the group it watches", high.urn)]


# --- spot ----------------------------------------------------------------------------------

def test_spot_without_a_base_capacity_counts_every_instance_above_zero() -> None:
    props = {"maxSize": 1, "mixedInstancesPolicy": {
        "instancesDistribution": {"onDemandPercentageAboveBaseCapacity": 50}}}
    assert rules.spot_capacity_rebalance(GROUP, props) == [
        "the group launches spot instances (onDemandPercentageAboveBaseCapacity 50) without "
        "capacityRebalance: set it true so spot instances at risk are replaced before they are "
        "interrupted"]
