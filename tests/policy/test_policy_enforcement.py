"""Production blocks, staging reports: the enforcement level each stack gives every policy, applied
by pulumi_policy's own analyzer service (the gRPC service the CLI calls) to what a policy reports,
including values unknown during a preview."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import rules
from policy.offline import UNKNOWN, policy_config
from policy.pack import PACK_NAME, POLICIES, enforcement_for_stack

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policy"
LEVELS = {EnforcementLevel.ADVISORY: proto.ADVISORY, EnforcementLevel.MANDATORY: proto.MANDATORY,
          EnforcementLevel.REMEDIATE: proto.REMEDIATE, EnforcementLevel.DISABLED: proto.DISABLED}
WEAK_TEMPLATE = {"imageId": "ami-0123456789abcdef0",
                 "metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 1},
                 "blockDeviceMappings": [{"deviceName": "/dev/xvda",
                                          "ebs": {"encrypted": "true"}}]}
UNKNOWN_TOKENS = {**WEAK_TEMPLATE, "metadataOptions": {"httpTokens": UNKNOWN,
                                                       "httpPutResponseHopLimit": 1}}
NETWORK = {"fleetSubnets": [{"id": "subnet-a1", "az": "ap-northeast-1a"},
                            {"id": "subnet-a2", "az": "ap-northeast-1a"}]}


def config_file(stack: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PACK_DIR / f"{stack}.json").read_text())
    return document


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(dict(values))
    return result


def configure_request(stack: str) -> Any:
    """What the CLI sends after reconciling policy/<stack>.json with the pack's own defaults."""
    default = enforcement_for_stack(stack)
    request = proto.ConfigureAnalyzerRequest()
    for policy in POLICIES:
        level, properties = policy_config(config_file(stack), policy)
        request.policyConfig[policy.name].CopyFrom(proto.PolicyConfig(
            enforcementLevel=LEVELS[level or policy.enforcement_level or default],
            properties=struct(properties)))
    return request


def analyze_request(resource_type: str, props: Mapping[str, Any]) -> Any:
    return proto.AnalyzeRequest(type=resource_type, name="subject", properties=struct(props),
                                urn=f"urn:pulumi:test::webtier::{resource_type}::subject")


def service(stack: str, *, configured: bool = True) -> _PolicyAnalyzerServicer:
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", POLICIES, enforcement_for_stack(stack))
    if configured:
        servicer.Configure(configure_request(stack), None)
    return servicer


def diagnostics(response: Any, policy_name: str) -> list[tuple[int, str]]:
    return [(d.enforcementLevel, d.message) for d in response.diagnostics
            if d.policyName == policy_name]


@pytest.fixture(autouse=True)
def clean_stack_config() -> Iterator[None]:
    token = runtime_config.CONFIG.set({})
    yield
    runtime_config.CONFIG.reset(token)


@pytest.mark.parametrize(("stack", "level"), [
    ("production", EnforcementLevel.MANDATORY),
    ("staging", EnforcementLevel.ADVISORY),
    ("prod", EnforcementLevel.MANDATORY),   # a misspelt stack still blocks
    ("stack", EnforcementLevel.MANDATORY),  # what pulumi.get_stack() says when the CLI named none
])
def test_stack_name_sets_the_packs_enforcement_level(stack: str, level: EnforcementLevel) -> None:
    assert enforcement_for_stack(stack) is level


@pytest.mark.parametrize(("stack", "level"), [("production", proto.MANDATORY),
                                              ("staging", proto.ADVISORY)])
def test_analyzer_info_gives_every_policy_the_stacks_level(stack: str, level: int) -> None:
    # Except a policy that sets its own: the spot rule only ever warns.
    info = service(stack, configured=False).GetAnalyzerInfo(None, None)
    assert {p.name: p.enforcementLevel for p in info.policies} == \
        {p.name: proto.ADVISORY if p.enforcement_level == EnforcementLevel.ADVISORY else level
         for p in POLICIES}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_config_files_name_only_policies_of_the_pack(stack: str) -> None:
    names = {p.name for p in POLICIES} | {"all"}
    assert set(config_file(stack)) <= names


@pytest.mark.parametrize(("stack", "level"), [("production", proto.MANDATORY),
                                              ("staging", proto.ADVISORY)])
def test_config_file_sets_the_level_a_violation_is_reported_at(stack: str, level: int) -> None:
    response = service(stack).Analyze(analyze_request(rules.LAUNCH_TEMPLATE, WEAK_TEMPLATE), None)
    assert diagnostics(response, "autoscaling-launchconfig-requires-imdsv2") == [
        (level, "Launch configurations and templates require IMDSv2 (metadataOptions.httpTokens "
                "\"required\").\nmetadataOptions.httpTokens is 'optional': IMDSv2 needs "
                "\"required\"")]


def test_unknown_value_in_production_is_a_mandatory_violation() -> None:
    response = service("production").Analyze(
        analyze_request(rules.LAUNCH_TEMPLATE, UNKNOWN_TOKENS), None)
    found = diagnostics(response, "autoscaling-launchconfig-requires-imdsv2")
    assert [(level, message.splitlines()[-1]) for level, message in found] == [
        (proto.MANDATORY, "cannot verify during preview: metadataOptions.httpTokens is unknown")]


def test_unknown_value_in_staging_is_an_advisory_note() -> None:
    response = service("staging").Analyze(
        analyze_request(rules.LAUNCH_TEMPLATE, UNKNOWN_TOKENS), None)
    found = diagnostics(response, "autoscaling-launchconfig-requires-imdsv2")
    assert [(level, message.splitlines()[-1]) for level, message in found] == [
        (proto.ADVISORY, "cannot verify during preview: metadataOptions.httpTokens is unknown")]


def single_zone_stack() -> Any:
    group = {"name": "web", "vpcZoneIdentifiers": ["subnet-a1", "subnet-a2"], "minSize": 2}
    return proto.AnalyzeStackRequest(resources=[proto.AnalyzerResource(
        type=rules.GROUP, name="web", urn="urn:pulumi:test::webtier::group::web",
        properties=struct(group))])


def test_production_config_blocks_a_single_zone_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI hands the stack's config to the pack in PULUMI_CONFIG; the service loads it.
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"webtier:network": json.dumps(NETWORK)}))
    response = service("production").AnalyzeStack(single_zone_stack(), None)
    found = diagnostics(response, "autoscaling-multiple-az")
    assert [level for level, _ in found] == [proto.MANDATORY]
    assert "spans 1 availability zone(s) (ap-northeast-1a); at least 2" in found[0][1]


def test_staging_config_accepts_a_single_zone_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"webtier:network": json.dumps(NETWORK)}))
    response = service("staging").AnalyzeStack(single_zone_stack(), None)
    assert diagnostics(response, "autoscaling-multiple-az") == []


# --- the pack as the CLI runs it -----------------------------------------------------------

def start_pack(stack: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start the pack the way pulumi-analyzer-policy-python does; return it and its address."""
    env = {**os.environ, "PULUMI_PROJECT": "webtier", "PULUMI_STACK": stack,
           "PULUMI_DRY_RUN": "true",
           "PULUMI_CONFIG": json.dumps({"webtier:network": json.dumps(NETWORK)})}
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
                               cwd=PACK_DIR, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline().decode().strip()
            if line.isdigit():
                return process, f"127.0.0.1:{line}"
        if process.poll() is not None:
            break
    process.kill()
    _, err = process.communicate(timeout=10)
    raise AssertionError(f"policy pack did not start for {stack}: {err.decode()[-2000:]}")


@pytest.fixture
def pack_process(request: pytest.FixtureRequest) -> Iterator[Any]:
    process, address = start_pack(request.param)
    channel = grpc.insecure_channel(address)
    try:
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        channel.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.integration
@pytest.mark.parametrize(("pack_process", "level"),
                         [("production", proto.MANDATORY), ("staging", proto.ADVISORY)],
                         indirect=["pack_process"])
def test_real_pack_process_over_grpc_reads_stack_name_for_its_level(pack_process: Any,
                                                                     level: int) -> None:
    info = pack_process.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
    assert info.name == PACK_NAME
    # Every policy but the ones that set their own level (the spot rule only ever warns).
    own = {p.name for p in POLICIES if p.enforcement_level == EnforcementLevel.ADVISORY}
    assert {p.enforcementLevel for p in info.policies if p.name not in own} == {level}
    assert {p.enforcementLevel for p in info.policies if p.name in own} == {proto.ADVISORY}


@pytest.mark.integration
@pytest.mark.parametrize(("pack_process", "level"),
                         [("production", proto.MANDATORY), ("staging", proto.ADVISORY)],
                         indirect=["pack_process"])
def test_real_pack_process_over_grpc_blocks_only_in_production(pack_process: Any,
                                                                level: int) -> None:
    stack = "production" if level == proto.MANDATORY else "staging"
    pack_process.Configure(configure_request(stack), timeout=10)
    response = pack_process.Analyze(analyze_request(rules.LAUNCH_TEMPLATE, UNKNOWN_TOKENS),
                                    timeout=10)
    found = diagnostics(response, "autoscaling-launchconfig-requires-imdsv2")
    assert [(lvl, message.splitlines()[-1]) for lvl, message in found] == [
        (level, "cannot verify during preview: metadataOptions.httpTokens is unknown")]
