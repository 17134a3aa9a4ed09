"""Stack settings: both committed stacks parse, and every malformed config is rejected by key.

Pure tests of components/settings.py, plus one run under mocks proving a bad config stops the
program before any resource is registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from components.settings import (
    STACKS,
    SettingsError,
    StackSettings,
    parse_settings,
    stack_file_kv_keys,
)
from tests.mocks import PLACEHOLDER_SECRETS, WebtierMocks, run_program, stack_config

ROOT = Path(__file__).resolve().parents[2]


def parse(stack: str, overrides: Mapping[str, Any] | None = None,
          secret_keys: list[str] | None = None, parity: bool = True) -> StackSettings:
    config, secrets = stack_config(stack, overrides=overrides)
    others = {s: stack_file_kv_keys(ROOT / f"Pulumi.{s}.yaml") for s in STACKS if s != stack}
    return parse_settings(stack, config, secrets if secret_keys is None else secret_keys,
                          others if parity else None)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_parses(stack: str) -> None:
    settings = parse(stack)
    assert settings.stack == stack
    assert settings.fleet.launch_kind == "template"


def test_production_keeps_the_original_scaling_values() -> None:
    s = parse("production")
    assert (s.fleet.min_size, s.fleet.max_size, s.fleet.health_check_grace_period) == (2, 20, 300)
    assert (s.scaling.period, s.scaling.scale_out_threshold, s.scaling.scale_in_threshold) == \
        (300, 50, 20)
    assert (s.scaling.scale_out_adjustment, s.scaling.scale_in_adjustment,
            s.scaling.cooldown) == (3, -1, 300)
    assert len(s.network.fleet_azs) >= 2


def test_stacks_declare_the_same_kv_keys() -> None:
    assert parse("staging").kv.keys == parse("production").kv.keys


def test_secret_values_print_as_secret() -> None:
    s = parse("staging")
    text = repr(s) + str(s.secrets.gossip_key)
    for placeholder in PLACEHOLDER_SECRETS.values():
        assert placeholder not in text


# Each case: (stack, overrides, the config key the message must name, a phrase it must contain).
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("staging", {"webtier:fleet.minSize": 5, "webtier:fleet.maxSize": 3},
     "webtier:fleet.minSize", "must not exceed maxSize"),
    ("staging", {"webtier:fleet.desiredCapacity": 9}, "webtier:fleet.desiredCapacity",
     "within [minSize, maxSize]"),
    ("staging", {"webtier:fleet.minSize": "two"}, "webtier:fleet.minSize", "whole number"),
    ("staging", {"webtier:fleet.maxSize": True}, "webtier:fleet.maxSize", "whole number"),
    ("staging", {"webtier:fleet.launchKind": "spot"}, "webtier:fleet.launchKind",
     "one of template, configuration"),
    ("staging", {"webtier:fleet.instanceType": "large"}, "webtier:fleet.instanceType",
     "instance type"),
    ("staging", {"webtier:fleet.appPort": 8500}, "webtier:fleet.appPort", "Consul port"),
    ("staging", {"webtier:fleet.appPort": 80}, "webtier:fleet.appPort", "between 1024 and 65535"),
    ("staging", {"webtier:rollout.minHealthyPercentage": 120},
     "webtier:rollout.minHealthyPercentage", "between 0 and 100"),
    ("staging", {"webtier:fleet.rootVolumeType": "st1"}, "webtier:fleet.rootVolumeType",
     "one of gp2"),
    ("staging", {"webtier:fleet.spotPrice": "0.1"}, "webtier:fleet.spotPrice",
     "not a known setting"),
    ("staging", {"webtier:scaling.scaleOutThreshold": 150}, "webtier:scaling.scaleOutThreshold",
     "between 0 and 100"),
    ("staging", {"webtier:scaling.scaleInThreshold": -5}, "webtier:scaling.scaleInThreshold",
     "between 0 and 100"),
    ("staging", {"webtier:scaling.scaleInThreshold": 60}, "webtier:scaling.scaleInThreshold",
     "below scaleOutThreshold"),
    ("staging", {"webtier:scaling.period": 45}, "webtier:scaling.period", "multiple of 60"),
    ("staging", {"webtier:scaling.period": 86400, "webtier:scaling.evaluationPeriods": 2},
     "webtier:scaling.evaluationPeriods", "one day"),
    ("staging", {"webtier:scaling.mode": "predictive"}, "webtier:scaling.mode",
     "simple, target-tracking, step"),
    ("staging", {"webtier:scaling.scaleInAdjustment": 1}, "webtier:scaling.scaleInAdjustment",
     "between -100 and -1"),
    ("staging", {"webtier:scaling.scaleOutAdjustment": 0}, "webtier:scaling.scaleOutAdjustment",
     "between 1 and 100"),
    ("production", {"webtier:network.fleetSubnets": [
        {"id": "subnet-0f1e2d3c4b5a69781", "az": "ap-northeast-1a"}]},
     "webtier:network.fleetSubnets", "at least two availability zones"),
    ("production", {"webtier:network.fleetSubnets": [
        {"id": "subnet-0f1e2d3c4b5a69781", "az": "ap-northeast-1a"},
        {"id": "subnet-0f1e2d3c4b5a69782", "az": "ap-northeast-1a"}]},
     "webtier:network.fleetSubnets", "at least two availability zones"),
    ("staging", {"webtier:network.fleetSubnets": [{"id": "subnet-xyz", "az": "ap-northeast-1a"}]},
     "webtier:network.fleetSubnets[0].id", "subnet id"),
    ("staging", {"webtier:network.vpcId": None}, "webtier:network.vpcId", "is missing"),
    ("staging", {"webtier:network.vpcId": "vpc-123"}, "webtier:network.vpcId", "VPC id"),
    ("staging", {"webtier:image.baseSourceAmi": "ami-123"}, "webtier:image.baseSourceAmi",
     "AMI id"),
    ("staging", {"webtier:image.source": "ami", "webtier:image.amiId": "ami-XYZ"},
     "webtier:image.amiId", "AMI id"),
    ("staging", {"webtier:image.source": "ami"}, "webtier:image.amiId", "is missing"),
    ("staging", {"webtier:image.source": "marketplace"}, "webtier:image.source",
     "one of build, promote, ami"),
    ("staging", {"webtier:consul.clusterSecurityGroupId": None}, "webtier:consul",
     "clusterSecurityGroupId or clusterCidr"),
    ("staging", {"webtier:consul.clusterSecurityGroupId": None,
                 "webtier:consul.clusterCidr": "0.0.0.0/0"},
     "webtier:consul.clusterCidr", "whole internet"),
    ("staging", {"webtier:consul.address": "consul:8500"}, "webtier:consul.address", "URL"),
    ("staging", {"webtier:loadBalancer.ingressCidrs": ["10.0.0.300/8"]},
     "webtier:loadBalancer.ingressCidrs[0]", "CIDR"),
    ("staging", {"webtier:loadBalancer.healthCheckPath": "health"},
     "webtier:loadBalancer.healthCheckPath", "start with /"),
    ("staging", {"webtier:kv.values": {"database/master-user": "webapp",
                                       "database/master-host": "db",
                                       "database/master-database": "d",
                                       "app/log-level": "debug",
                                       "feature/new-checkout": "true",
                                       "database/master-password": "hunter2"}},
     "webtier:kv.values.database/master-password", "looks like a secret"),
    ("staging", {"webtier:kv.values.cache/host": "redis"}, "webtier:kv: KV key 'cache/host'",
     "not in 'production'"),
    ("staging", {"webtier:kv.values.Bad Key": "x"}, "webtier:kv.values.Bad Key",
     "lowercase path segments"),
    ("staging", {"webtier:fleet": "{not json"}, "webtier:fleet", "not valid JSON"),
    ("staging", {"webtier:fleet": [1, 2]}, "webtier:fleet", "must be an object"),
    ("staging", {"webtier:colour": "blue"}, "webtier:colour", "not a known setting"),
    ("staging", {"aws:region": "tokyo"}, "aws:region", "AWS region"),
    ("staging", {"webtier:app": "Web_App"}, "webtier:app", "lowercase"),
    ("staging", {"webtier:release.deployerRoleArns": ["arn:aws:s3:::bucket"]},
     "webtier:release.deployerRoleArns[0]", "IAM role ARN"),
    ("staging", {"webtier:release.deployerRoleArns": None},
     "webtier:release.deployerRoleArns", "is missing"),
    ("staging", {"webtier:tags": {"aws:owner": "me"}}, "webtier:tags.aws:owner",
     "may not start aws:"),
    ("staging", {"webtier:consulGossipKey": None}, "webtier:consulGossipKey",
     "pulumi config set --secret consulGossipKey"),
    ("staging", {"webtier:kvSecrets": {}}, 'webtier:kvSecrets["database/master-password"]',
     "pulumi config set --secret --path"),
]


@pytest.mark.parametrize(("stack", "overrides", "key", "phrase"), BAD,
                         ids=[f"{c[2]}:{c[3]}" for c in BAD])
def test_bad_config_is_rejected_naming_the_key(stack: str, overrides: dict[str, Any], key: str,
                                               phrase: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(stack, overrides)
    matching = [p for p in caught.value.problems if key in p]
    assert matching, f"no problem names {key}: {caught.value.problems}"
    assert any(phrase in p for p in matching), f"{key}: {matching} lacks {phrase!r}"


@pytest.mark.parametrize(("stack", "overrides", "key", "phrase"), BAD,
                         ids=[f"{c[2]}:{c[3]}" for c in BAD])
def test_bad_config_stops_the_program_before_any_resource_naming_the_key(
        stack: str, overrides: dict[str, Any], key: str, phrase: str) -> None:
    mocks = CountingMocks()
    with pytest.raises(SettingsError) as caught:
        run_program(stack, config_overrides=overrides, mocks=mocks)
    assert mocks.created == []
    assert key in str(caught.value)


def test_secret_given_in_plaintext_is_rejected_without_echoing_it() -> None:
    config, secrets = stack_config("staging")
    plain = [k for k in secrets if k != "webtier:consulAgentToken"]
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, plain)
    message = str(caught.value)
    assert "webtier:consulAgentToken" in message
    assert "plaintext" in message
    assert PLACEHOLDER_SECRETS["webtier:consulAgentToken"] not in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        parse("staging", {"webtier:fleet.minSize": 9, "webtier:scaling.period": 7,
                          "aws:region": "mars"})
    keys = " ".join(caught.value.problems)
    assert "webtier:fleet.minSize" in keys
    assert "webtier:scaling.period" in keys
    assert "aws:region" in keys


def test_environment_specific_key_may_differ_between_stacks() -> None:
    s = parse("staging", {"webtier:kv.values.debug/toolbar": "on",
                          "webtier:kv.environmentSpecific": ["debug/toolbar"]})
    assert "debug/toolbar" in s.kv.keys


class CountingMocks(WebtierMocks):
    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        self.created.append(args.typ)
        return super().new_resource(args)


def test_bad_config_stops_the_program_before_any_resource() -> None:
    mocks = CountingMocks()
    with pytest.raises(SettingsError):
        run_program("staging", config_overrides={"webtier:fleet.minSize": 50}, mocks=mocks)
    assert mocks.created == []


def test_good_config_registers_resources_with_the_same_engine() -> None:
    mocks = CountingMocks()
    run_program("staging", mocks=mocks)
    assert "aws:autoscaling/group:Group" in mocks.created
