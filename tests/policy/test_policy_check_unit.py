"""`python -m plan STACK --policy` on small hand-built registrations: what the pack is handed
(custom resources only, outputs over inputs, stand-ins for secrets and unknowns), the enforcement
level each finding carries (stack default, policy/<stack>.json, the stack's own config), and the
Markdown summary. (tests/policy/test_policy_stacks.py runs the pack over the committed stacks.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from contracts.stack_file import MAX_BYTES
from mock_engine import SECRET, Registration
from mock_engine import UNKNOWN as MOCK_UNKNOWN
from plan import policy_check
from plan.errors import PlanError
from plan.policy_check import Finding, check, pack_config, render, stack_resources, to_wire
from policy.offline import UNKNOWN

ADVISORY, MANDATORY = EnforcementLevel.ADVISORY, EnforcementLevel.MANDATORY
PREFIX = "urn:pulumi:staging::webtier::"
SG, GROUP = "aws:ec2/securityGroup:SecurityGroup", "aws:autoscaling/group:Group"
GROUP_URN = f"{PREFIX}webtier:fleet:Fleet${GROUP}::web"


def sg_urn(name: str) -> str:
    return f"{PREFIX}{SG}::{name}"


def open_sg(name: str, port: int, *, custom: bool = True) -> Registration:
    rule = {"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": ["0.0.0.0/0"]}
    return Registration(SG, name, sg_urn(name), "", custom, {"ingress": [rule]}, {})


def ports_message(port: str) -> str:
    return (f"ingress[0] opens tcp to port(s) {port} from 0.0.0.0/0: allow only the Consul "
            "cluster's security group or a private CIDR")


# The SG named "a" opens Consul's HTTP port, "b" SSH: by URN "a" comes first, by message "b".
REGISTRATIONS = [
    open_sg("b", 22),
    open_sg("a", 8500),
    Registration(GROUP, "web", GROUP_URN, f"{PREFIX}webtier:fleet:Fleet::fleet", True,
                 {"vpcZoneIdentifiers": ["subnet-a"]}, {}),
    open_sg("component", 22, custom=False),  # a component: the pack never sees it
]
TAGS = ("tag(s) Name do not reach the instances: give the group these tags with "
        "propagateAtLaunch true, or put them in the launch template's tagSpecifications for "
        "resourceType \"instance\"")


def one_zone(zone: str) -> str:
    return (f"the group spans 1 availability zone(s) ({zone}); at least 2 are required so it "
            "survives the loss of a zone")


def stack_root(tmp_path: Path, pack: Mapping[str, Any] | None = None) -> Path:
    """A tree with Pulumi.staging.yaml (one fleet subnet, in zone-a) and, if given,
    policy/staging.json."""
    (tmp_path / "Pulumi.staging.yaml").write_text(
        "config:\n  webtier:network:\n    fleetSubnets:\n      - {id: subnet-a, az: zone-a}\n")
    if pack is not None:
        (tmp_path / "policy").mkdir()
        (tmp_path / "policy" / "staging.json").write_text(json.dumps(pack))
    return tmp_path


def test_staging_without_a_pack_config_reports_every_violation_as_advisory(
        tmp_path: Path) -> None:
    assert check("staging", REGISTRATIONS, root=stack_root(tmp_path)) == [
        Finding("autoscaling-launch-tags-propagated", ADVISORY, TAGS, GROUP_URN),
        Finding("autoscaling-multiple-az", ADVISORY, one_zone("zone-a"), GROUP_URN),
        Finding("restricted-common-ports", ADVISORY, ports_message("8500 (Consul HTTP API)"),
                sg_urn("a")),
        Finding("restricted-common-ports", ADVISORY, ports_message("22 (SSH)"), sg_urn("b")),
    ]


def test_overrides_reach_the_stack_config_the_pack_reads(tmp_path: Path) -> None:
    moved = {"webtier:network": {"fleetSubnets": [{"id": "subnet-a", "az": "zone-b"}]}}
    found = check("staging", REGISTRATIONS, overrides=moved, root=stack_root(tmp_path))
    assert [f.message for f in found if f.policy == "autoscaling-multiple-az"] == \
        [one_zone("zone-b")]


def test_pack_config_sets_levels_disables_policies_and_configures_them(tmp_path: Path) -> None:
    pack = {"all": "mandatory",
            "autoscaling-launchconfig-requires-imdsv2": "disabled",  # the first policy
            "autoscaling-launch-tags-propagated": "advisory",
            "restricted-common-ports": {"blockedPorts": [8500]},
            "autoscaling-multiple-az": {"minimumAvailabilityZones": 1}}
    assert check("staging", REGISTRATIONS, root=stack_root(tmp_path, pack)) == [
        Finding("autoscaling-launch-tags-propagated", ADVISORY, TAGS, GROUP_URN),
        Finding("restricted-common-ports", MANDATORY, ports_message("8500 (Consul HTTP API)"),
                sg_urn("a")),
    ]


def test_each_resource_policy_gets_the_resources_name_urn_inputs_and_its_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def probe(args: ResourceValidationArgs, report: ReportViolation) -> None:
        report(f"{args.name} {args.urn} {args.props['ingress'][0]['fromPort']:g} "
               f"{args.get_config()}", None)

    # A policy kind the offline runner does not know is skipped; the ones after it still run.
    policies: list[Policy] = [Policy("unknown-kind", "neither resource nor stack"),
                              ResourceValidationPolicy("probe", "echoes its arguments", probe)]
    monkeypatch.setattr(policy_check, "POLICIES", policies)
    root = stack_root(tmp_path, {"probe": {"enforcementLevel": "mandatory", "limit": 3}})
    assert check("staging", [open_sg("b", 22)], root=root) == [
        Finding("probe", MANDATORY, f"b {sg_urn('b')} 22 {{'limit': 3}}", sg_urn("b"))]


def plain(value: Any) -> Any:
    """A policy's props (behind the SDK's proxies) as plain data."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "keys"):
        return {k: plain(value[k]) for k in value}
    return [plain(v) for v in value]


def test_stack_policies_see_custom_resources_outputs_else_inputs_and_their_parent() -> None:
    registrations = [
        Registration("a:b:C", "computed", "urn:a::computed", "urn:a::parent", True,
                     {"size": 1}, {}, {"size": 2, "token": SECRET}),
        Registration("a:b:C", "declared", "urn:a::declared", "", True,
                     {"size": 1, "tags": [{"k": "v"}]}, {}),
        Registration("a:b:Component", "parent", "urn:a::parent", "", False, {"size": 9}, {}),
    ]
    assert [(r.resource_type, r.name, r.urn, r.opts.parent, plain(r.props))
            for r in stack_resources(registrations)] == [
        ("a:b:C", "computed", "urn:a::computed", "urn:a::parent",
         {"size": 2.0, "token": "placeholder"}),
        ("a:b:C", "declared", "urn:a::declared", None, {"size": 1.0, "tags": [{"k": "v"}]}),
    ]


def test_to_wire_turns_mock_markers_into_what_the_analyzer_sends_at_any_depth() -> None:
    assert to_wire({"a": [MOCK_UNKNOWN, SECRET, 1], "b": {"c": SECRET, "d": MOCK_UNKNOWN},
                    "e": "text"}) == {
        "a": [UNKNOWN, "placeholder", 1], "b": {"c": "placeholder", "d": UNKNOWN}, "e": "text"}
    assert to_wire(MOCK_UNKNOWN) == UNKNOWN
    assert to_wire(SECRET) == "placeholder"


def test_render_with_no_findings_says_every_rule_passes() -> None:
    assert render("staging", []) == "Policy pack on `staging`: every rule passes.\n"


def test_render_lists_blocking_findings_first_then_by_policy_and_resource() -> None:
    role = "urn:pulumi:production::webtier::webtier:fleet:Fleet$aws:iam/role:Role::web-role"
    findings = [
        Finding("restricted-common-ports", ADVISORY, "port 22 is open", sg_urn("b")),
        Finding("restricted-common-ports", ADVISORY, "port 8500 is open", sg_urn("a")),
        Finding("iam-no-policy-wildcards", MANDATORY, "Allow s3:* | ec2:*\non *", role),
        Finding("autoscaling-group-elb-healthcheck-required", MANDATORY, "a stack finding", None),
    ]
    assert render("production", findings) == """\
Policy pack on `production`: 4 violation(s), 2 blocking.

| level | policy | resource | message |
|---|---|---|---|
| mandatory | `autoscaling-group-elb-healthcheck-required` | `(stack)` | a stack finding |
| mandatory | `iam-no-policy-wildcards` | `web-role` | Allow s3:* \\| ec2:* on * |
| advisory | `restricted-common-ports` | `a` | port 8500 is open |
| advisory | `restricted-common-ports` | `b` | port 22 is open |
"""




def pack_file(tmp_path: Path, body: bytes) -> Path:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "qa.json").write_bytes(body)
    return tmp_path


def test_no_pack_config_file_means_the_packs_defaults(tmp_path: Path) -> None:
    assert pack_config("qa", tmp_path) == {}


def test_pack_config_may_fill_the_size_limit(tmp_path: Path) -> None:
    root = pack_file(tmp_path, b'{"a": 1}'.ljust(MAX_BYTES))  # trailing spaces are valid JSON
    assert pack_config("qa", root) == {"a": 1}


def test_pack_config_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        pack_config("qa", pack_file(tmp_path, b" " * (MAX_BYTES + 1)))
    assert str(caught.value) == "policy/qa.json: is not readable JSON " \
        f"({MAX_BYTES + 1} bytes is over the {MAX_BYTES}-byte limit)"


@pytest.mark.parametrize(("body", "message"), [
    (b'{"all": ', "is not readable JSON (Expecting value: line 1 column 9 (char 8))"),
    (b"\xff", "is not readable JSON ('utf-8' codec can't decode byte 0xff in position 0: "
              "invalid start byte)"),
    (b'["mandatory"]', "the top level must be an object of policy name -> config"),
])
def test_unusable_pack_config_is_one_line_naming_the_file(
        tmp_path: Path, body: bytes, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        pack_config("qa", pack_file(tmp_path, body))
    assert str(caught.value) == f"policy/qa.json: {message}"
