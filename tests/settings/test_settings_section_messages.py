"""Each section parser, called directly: what it reads, and the exact line each refusal prints.

A refusal names `webtier:<section>.<field>`, shows the value given and says what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.settings.fleet import FleetSettings, parse_fleet
from components.settings.image import ImageSettings, parse_image
from components.settings.load_balancer import LoadBalancerSettings, parse_load_balancer
from components.settings.network import NetworkSettings, Subnet, parse_network
from components.settings.reader import ConfigObject, Problems
from components.settings.release import ReleaseSettings, parse_release

AMI = "ami-0123456789abcdef0"
ROLE = "arn:aws:iam::123456789012:role/deploy"
ROLE_RULE = "must be an IAM role ARN like arn:aws:iam::123456789012:role/deployer"


def read(parse: Callable[[ConfigObject], Any], section: str,
         raw: object) -> tuple[Any, list[str]]:
    problems = Problems()
    settings = parse(ConfigObject(f"webtier:{section}", raw, problems))
    return settings, problems.items


# --- release -----------------------------------------------------------------------------------

def test_release_reads_bucket_roles_and_keep() -> None:
    r, problems = read(parse_release, "release",
                       {"bucketName": "web-releases", "deployerRoleArns": [ROLE],
                        "keepReleases": 7})
    assert (problems, r) == ([], ReleaseSettings("web-releases", 7, (ROLE,)))


def test_release_bucket_is_optional() -> None:
    r, problems = read(parse_release, "release", {"deployerRoleArns": [ROLE]})
    assert (problems, r) == ([], ReleaseSettings(None, 5, (ROLE,)))


def test_release_bucket_name_with_dots_is_refused() -> None:
    _, problems = read(parse_release, "release",
                       {"bucketName": "web.releases", "deployerRoleArns": [ROLE]})
    assert problems == [
        'webtier:release.bucketName = "web.releases": must be 3-63 lowercase letters, digits and '
        "dashes (no dots: TLS to <bucket>.s3.amazonaws.com breaks on them)"]


def test_release_refuses_a_role_arn_by_index_and_keeps_the_good_ones() -> None:
    user = "arn:aws:iam::123456789012:user/ci"
    r, problems = read(parse_release, "release", {"deployerRoleArns": [ROLE, user]})
    assert problems == [f'webtier:release.deployerRoleArns[1] = "{user}": {ROLE_RULE}']
    assert r.deployer_role_arns == (ROLE,)


@pytest.mark.parametrize("raw", [{}, {"deployerRoleArns": []}])
def test_release_without_deployers_is_refused(raw: dict[str, Any]) -> None:
    _, problems = read(parse_release, "release", raw)
    assert problems == [
        "webtier:release.deployerRoleArns is missing: name the IAM role(s) allowed to upload "
        "releases (e.g. the CI deploy role); nobody else may write"]


# --- image -------------------------------------------------------------------------------------

def image(obj: ConfigObject) -> ImageSettings:
    return parse_image(obj, "shop")


def test_image_reads_every_field() -> None:
    i, problems = read(image, "image", {
        "source": "ami", "amiId": AMI, "baseSourceAmi": "ami-0fedcba9876543210",
        "builderInstanceType": "c5.large", "namePrefix": "shop-web", "keepLast": 9})
    assert problems == []
    assert i == ImageSettings("ami", AMI, "ami-0fedcba9876543210", "c5.large", "shop-web", 9)


def test_image_name_prefix_defaults_to_the_app() -> None:
    i, problems = read(image, "image", {"baseSourceAmi": AMI})
    assert problems == []
    assert i == ImageSettings("build", None, AMI, "t3.small", "shop", 3)


def test_image_source_ami_needs_an_ami_id() -> None:
    i, problems = read(image, "image", {"source": "ami"})
    assert problems == ["webtier:image.amiId is missing: image.source 'ami' needs an AMI id"]
    assert i.source == "ami"


@pytest.mark.parametrize("source", ["build", "promote"])
def test_image_build_and_promote_need_the_base_ami(source: str) -> None:
    _, problems = read(image, "image", {"source": source})
    assert problems == [
        f"webtier:image.baseSourceAmi is missing: image.source '{source}' needs the AMI the base "
        "layer starts from (a promoting stack names the same one as the building stack, so it "
        "finds the AMI built from the same inputs)"]


def test_image_ami_source_needs_no_base() -> None:
    _, problems = read(image, "image", {"source": "ami", "amiId": AMI})
    assert problems == []


def test_image_refusals_name_each_field() -> None:
    _, problems = read(image, "image", {
        "source": "ami", "amiId": "ami-123", "baseSourceAmi": "ami-xyz",
        "builderInstanceType": "big", "namePrefix": "Shop"})
    assert problems == [
        'webtier:image.amiId = "ami-123": must be an AMI id like ami-0123456789abcdef0',
        'webtier:image.baseSourceAmi = "ami-xyz": must be an AMI id like ami-0123456789abcdef0',
        "webtier:image.amiId is missing: image.source 'ami' needs an AMI id",
        'webtier:image.builderInstanceType = "big": must be an EC2 instance type like t3.small',
        'webtier:image.namePrefix = "Shop": lowercase letters, digits and dashes',
    ]


# --- load balancer ---------------------------------------------------------------------------

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def test_load_balancer_reads_every_field() -> None:
    lb, problems = read(parse_load_balancer, "loadBalancer", {
        "certificateArn": CERT, "listenerPort": 8443, "healthCheckPath": "/ready",
        "internal": True, "ingressCidrs": ["10.0.0.0/8", "192.168.1.0/24"],
        "deregistrationDelay": 5})
    assert problems == []
    assert lb == LoadBalancerSettings(True, 8443, CERT, ("10.0.0.0/8", "192.168.1.0/24"),
                                      "/ready", 5)


def test_load_balancer_refusals_name_each_field() -> None:
    _, problems = read(parse_load_balancer, "loadBalancer", {
        "certificateArn": "cert-1", "healthCheckPath": "health",
        "ingressCidrs": ["10.0.0.1/8", "everywhere"]})
    assert problems == [
        'webtier:loadBalancer.certificateArn = "cert-1": must be an ACM certificate ARN',
        'webtier:loadBalancer.healthCheckPath = "health": must start with / and hold at most '
        "254 letters, digits and . _ ~ @ : + / - (no spaces, quotes, $, %, ?, # or &)",
        'webtier:loadBalancer.ingressCidrs[0] = "10.0.0.1/8": must be a CIDR block like '
        "10.0.0.0/16",
        'webtier:loadBalancer.ingressCidrs[1] = "everywhere": must be a CIDR block like '
        "10.0.0.0/16",
    ]


def test_an_empty_ingress_list_is_kept_empty_not_the_default() -> None:
    lb, problems = read(parse_load_balancer, "loadBalancer", {"ingressCidrs": []})
    assert (problems, lb.ingress_cidrs) == ([], ())


def test_an_unknown_load_balancer_field_lists_the_known_ones() -> None:
    _, problems = read(parse_load_balancer, "loadBalancer", {"port": 80})
    assert problems == [
        "webtier:loadBalancer.port is not a known setting (known: certificateArn, "
        "deregistrationDelay, healthCheckPath, ingressCidrs, internal, listenerPort); "
        "its value is not shown"]


# --- fleet -------------------------------------------------------------------------------------

def test_fleet_reads_every_field() -> None:
    f, problems = read(parse_fleet, "fleet", {
        "launchKind": "configuration", "instanceType": "m5.large", "minSize": 3, "maxSize": 9,
        "desiredCapacity": 4, "healthCheckGracePeriod": 60, "appPort": 9000,
        "rootVolumeSize": 32, "rootVolumeType": "io2", "instanceWarmup": 120})
    assert problems == []
    assert f == FleetSettings("configuration", "m5.large", 3, 9, 4, 60, 9000, 32, "io2", 120)


def test_fleet_min_above_max_is_refused_with_both() -> None:
    _, problems = read(parse_fleet, "fleet", {"minSize": 6, "maxSize": 5})
    assert problems == ["webtier:fleet.minSize = 6: must not exceed maxSize (5)"]


def test_fleet_desired_outside_the_window_is_refused_with_it() -> None:
    _, problems = read(parse_fleet, "fleet", {"minSize": 2, "maxSize": 5, "desiredCapacity": 6})
    assert problems == ["webtier:fleet.desiredCapacity = 6: must be within [minSize, maxSize] = "
                        "[2, 5]"]


@pytest.mark.parametrize(("port", "purpose"), [(8300, "Consul RPC"), (8500, "Consul HTTP API"),
                                               (8600, "Consul DNS")])
def test_fleet_app_port_may_not_be_a_consul_port(port: int, purpose: str) -> None:
    _, problems = read(parse_fleet, "fleet", {"appPort": port})
    assert problems == [f"webtier:fleet.appPort = {port}: collides with a Consul port ({purpose})"]


def test_fleet_sizes_past_a_thousand_are_refused_as_out_of_range() -> None:
    _, problems = read(parse_fleet, "fleet", {"minSize": 1001, "maxSize": 1000})
    assert problems == ["webtier:fleet.minSize = 1001: must be between 0 and 1000"]
    _, problems = read(parse_fleet, "fleet", {"maxSize": 1000, "desiredCapacity": 1001})
    assert problems == ["webtier:fleet.desiredCapacity = 1001: must be between 0 and 1000"]


def test_fleet_refusals_name_each_field() -> None:
    _, problems = read(parse_fleet, "fleet", {
        "launchKind": "spot", "instanceType": "t3", "rootVolumeType": "st1", "appPort": 80})
    assert problems == [
        'webtier:fleet.launchKind = "spot": must be one of template, configuration',
        "webtier:fleet.appPort = 80: must be between 1024 and 65535",
        'webtier:fleet.instanceType = "t3": must be an EC2 instance type like t3.small',
        'webtier:fleet.rootVolumeType = "st1": must be one of gp2, gp3, io1, io2',
    ]


# --- network -----------------------------------------------------------------------------------

VPC = "vpc-0123456789abcdef0"
A = {"id": "subnet-0123456789abcdef0", "az": "ap-northeast-1a"}
B = {"id": "subnet-0123456789abcdef1", "az": "ap-northeast-1c"}


def network(stack: str, raw: dict[str, Any]) -> tuple[NetworkSettings, list[str]]:
    problems = Problems()
    return parse_network(ConfigObject("webtier:network", raw, problems), stack), problems.items


def subnet(raw: dict[str, str]) -> Subnet:
    return Subnet(raw["id"], raw["az"])


def test_network_load_balancer_subnets_default_to_the_fleet_ones() -> None:
    n, problems = network("production", {"vpcId": VPC, "fleetSubnets": [A, B]})
    assert problems == []
    assert n == NetworkSettings(VPC, (subnet(A), subnet(B)), (subnet(A), subnet(B)))
    assert n.fleet_azs == ("ap-northeast-1a", "ap-northeast-1c")


def test_network_reads_separate_load_balancer_subnets() -> None:
    n, problems = network("staging", {"vpcId": VPC, "fleetSubnets": [A],
                                      "loadBalancerSubnets": [A, B]})
    assert problems == []
    assert n == NetworkSettings(VPC, (subnet(A),), (subnet(A), subnet(B)))


def test_network_vpc_is_required() -> None:
    _, problems = network("staging", {"fleetSubnets": [A, B]})
    assert problems == ["webtier:network.vpcId is missing: it is required"]


def test_network_high_availability_stack_needs_two_zones() -> None:
    same_zone = {**B, "az": A["az"]}
    _, problems = network("production", {"vpcId": VPC, "fleetSubnets": [A, same_zone],
                                         "loadBalancerSubnets": [A, B]})
    assert problems == [
        'webtier:network.fleetSubnets = ["ap-northeast-1a", "ap-northeast-1a"]: stack '
        "'production' needs subnets in at least two availability zones"]
    _, problems = network("production", {"vpcId": VPC, "fleetSubnets": [A],
                                         "loadBalancerSubnets": [A, B]})
    assert problems == [
        'webtier:network.fleetSubnets = ["ap-northeast-1a"]: stack '
        "'production' needs subnets in at least two availability zones"]


def test_network_other_stacks_need_one_fleet_subnet() -> None:
    _, problems = network("staging", {"vpcId": VPC, "loadBalancerSubnets": [A, B]})
    assert problems == ["webtier:network.fleetSubnets is missing: give at least one subnet"]


def test_network_load_balancer_needs_two_zones() -> None:
    _, problems = network("staging", {"vpcId": VPC, "fleetSubnets": [A]})
    assert problems == [
        'webtier:network.loadBalancerSubnets = ["ap-northeast-1a"]: an application load '
        "balancer needs subnets in at least two zones"]


def test_network_a_subnet_listed_twice_is_refused() -> None:
    twin = {**A, "az": B["az"]}
    _, problems = network("staging", {"vpcId": VPC, "fleetSubnets": [A, twin, B]})
    assert problems == [
        'webtier:network.fleetSubnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0", '
        '"subnet-0123456789abcdef1"]: lists a subnet twice']


def test_network_subnet_refusals_name_the_entry() -> None:
    n, problems = network("staging", {"vpcId": "vpc-1", "fleetSubnets": [
        A, B, {"id": "subnet-1", "az": "tokyo"}, {"az": A["az"], "cidr": "10.0.0.0/24"}]})
    assert problems == [
        'webtier:network.vpcId = "vpc-1": must be a VPC id like vpc-0123456789abcdef0',
        'webtier:network.fleetSubnets[2].id = "subnet-1": must be a subnet id like '
        "subnet-0123456789abcdef0",
        'webtier:network.fleetSubnets[2].az = "tokyo": must be an availability zone like '
        "ap-northeast-1a",
        "webtier:network.fleetSubnets[3].id is missing: it is required",
        "webtier:network.fleetSubnets[3].cidr is not a known setting (known: az, id); its value "
        "is not shown",
    ]
    assert n.fleet_subnets == (subnet(A), subnet(B))


def test_network_a_subnet_without_its_zone_counts_for_no_zone() -> None:
    # Left out, not counted: the load balancer still lacks a second zone.
    n, problems = network("staging", {"vpcId": VPC, "fleetSubnets": [A, {"id": B["id"]}]})
    assert problems == [
        "webtier:network.fleetSubnets[1].az is missing: it is required",
        'webtier:network.loadBalancerSubnets = ["ap-northeast-1a"]: an application load '
        "balancer needs subnets in at least two zones"]
    assert n.fleet_subnets == (subnet(A),)
