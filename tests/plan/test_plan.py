"""The offline plan's model and rendering, on hand-made registrations (no program runs).

Each case builds the registrations the mock engine would record, so a rule (what replaces, what
rolls instances, how secrets print) is pinned independently of what the program builds today.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from mock_engine import PLACEHOLDER_SECRETS, SECRET, UNKNOWN, Registration
from plan import comparison as plan_comparison
from plan import model as plan_model
from plan import render as plan_render

STACK_TYPE = "pulumi:pulumi:Stack"
FLEET = "webtier:fleet:Fleet"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
LC = "aws:ec2/launchConfiguration:LaunchConfiguration"
ASG = "aws:autoscaling/group:Group"
CMD = "command:local:Command"
SG = "aws:ec2/securityGroup:SecurityGroup"
KV = "consul:index/keys:Keys"
GOSSIP = PLACEHOLDER_SECRETS["webtier:consulGossipKey"]


class Program:
    """Registrations in the shape `mock_engine` records them, for one stack."""

    def __init__(self, stack: str = "staging") -> None:
        self.stack = stack
        self.regs: list[Registration] = []
        self.root = self.add(STACK_TYPE, f"webtier-{stack}", {}, parent=None)

    def urn(self, type_: str, name: str, parent: str | None) -> str:
        chain = []
        p = parent
        while p is not None:
            reg = next(r for r in self.regs if r.urn == p)
            if reg.type != STACK_TYPE:
                chain.append(reg.type)
            p = reg.parent or None
        qualified = "$".join([*reversed(chain), type_])
        return f"urn:pulumi:{self.stack}::webtier::{qualified}::{name}"

    def add(self, type_: str, name: str, inputs: Mapping[str, Any], *,
            parent: str | bool | None = True, deps: Sequence[str] = (),
            **options: Any) -> str:
        parent_urn = self.root if parent is True else (parent or None)
        urn = self.urn(type_, name, parent_urn)
        self.regs.append(Registration(
            type=type_, name=name, urn=urn, parent=parent_urn or "",
            custom=not type_.startswith("webtier:") and type_ != STACK_TYPE,
            inputs=dict(inputs),
            options={"deleteBeforeReplace": False, "ignoreChanges": [], "replaceOnChanges": [],
                     "retainOnDelete": False, "protect": False, "dependsOn": sorted(deps),
                     "additionalSecretOutputs": [], **options}))
        return urn

    def plan(self) -> list[plan_model.Resource]:
        return plan_model.resources(self.regs)


def fleet(stack: str = "staging", *, kind: str = "template", instance_type: str = "t3.small",
          image_trigger: str = "hash-1", user_data: str = "#!/bin/bash\necho boot\n",
          kv: Mapping[str, Any] | None = None, desired: int = 1) -> Program:
    """A small program: image build command, fleet component with SG, launch settings, group."""
    p = Program(stack)
    image = p.add(CMD, "image-build", {"create": "packer build -var-file=vars.json .",
                                       "triggers": [image_trigger],
                                       "environment": {"PACKER_VAR_token": SECRET}},
                  replaceOnChanges=["triggers[*]"])
    component = p.add(FLEET, "web", {})
    sg = p.add(SG, "web-sg", {"description": "web instances", "vpcId": "vpc-1",
                              "tags": {"env": stack}}, parent=component)
    launch_inputs: dict[str, Any] = {"imageId": UNKNOWN, "instanceType": instance_type,
                                     "namePrefix": "web-"}
    if kind == "template":
        launch_inputs |= {"userData": base64.b64encode(user_data.encode()).decode(),
                          "networkInterfaces": [{"securityGroups": [f"{sg}"]}]}
        launch = p.add(LT, "web-template", launch_inputs, parent=component, deps=[image, sg])
        group_launch: dict[str, Any] = {"launchTemplate": {"id": "web-template-id",
                                                           "version": "1"},
                                        "instanceRefresh": {"strategy": "Rolling", "preferences": {
                                            "minHealthyPercentage": 50.0}}}
    else:
        launch_inputs |= {"userData": user_data, "securityGroups": ["web-sg-id"]}
        launch = p.add(LC, "web-configuration", launch_inputs, parent=component,
                       deps=[image, sg])
        group_launch = {"launchConfiguration": "web-configuration-mock"}
    p.add(ASG, "web-group", {"minSize": 1.0, "maxSize": 4.0, "desiredCapacity": float(desired),
                             "namePrefix": "web-", **group_launch},
          parent=component, deps=[launch], ignoreChanges=["desiredCapacity"])
    p.add(KV, "kv", {"keys": [{"path": f"app/{stack}/{k}", "value": v}
                              for k, v in sorted((kv or {"log-level": "info"}).items())]})
    return p


def changes(before: Program, after: Program) -> dict[str, plan_model.Change]:
    return {c.name: c for c in plan_model.diff(before.plan(), after.plan())}


# --- the tree ---------------------------------------------------------------------------------

def test_tree_nests_each_resource_under_its_component() -> None:
    text = plan_render.tree("staging", fleet().plan())
    lines = text.splitlines()
    fleet_line = next(i for i, ln in enumerate(lines) if ln.endswith(f"{FLEET}  web"))
    group_line = next(i for i, ln in enumerate(lines) if f"{ASG}  web-group" in ln)
    assert group_line > fleet_line
    assert lines[group_line].index(ASG) > lines[fleet_line].index(FLEET), text


def test_tree_prints_secret_inputs_as_the_secret_marker() -> None:
    p = fleet()
    p.add("aws:ssm/parameter:Parameter", "gossip", {"type": "SecureString", "value": SECRET})
    text = plan_render.tree("staging", p.plan())
    assert "value: [secret]" in text


def test_tree_prints_a_command_output_as_unknown() -> None:
    text = plan_render.tree("staging", fleet().plan())
    assert "imageId: [unknown]" in text


def test_tree_shows_non_default_resource_options() -> None:
    text = plan_render.tree("staging", fleet().plan())
    assert f"{ASG}  web-group  [ignoreChanges=[desiredCapacity]]" in text


def test_tree_is_the_same_bytes_whatever_order_resources_registered_in() -> None:
    p = fleet()
    shuffled = Program()
    shuffled.regs = [p.regs[0], *random.Random(7).sample(p.regs[1:], len(p.regs) - 1)]
    assert plan_render.tree("staging", shuffled.plan()) == plan_render.tree("staging", p.plan())


def test_tree_shows_whole_numbers_without_a_fraction() -> None:
    # The wire format carries every number as a double.
    assert "minSize: 1\n" in plan_render.tree("staging", fleet().plan())


def test_tree_summarises_user_data_by_lines_and_digest() -> None:
    text = plan_render.tree("staging", fleet().plan())
    assert "userData: <user data: 2 lines, sha256:" in text


# --- what a change does ---------------------------------------------------------------------

def test_instance_type_change_replaces_the_launch_configuration() -> None:
    found = changes(fleet(kind="configuration"), fleet(kind="configuration",
                                                       instance_type="m5.large"))
    assert found["web-configuration"].action == "replace"
    assert found["web-configuration"].inputs[0].replaces


def test_group_on_a_replaced_launch_configuration_does_not_roll_running_instances() -> None:
    found = changes(fleet(kind="configuration"), fleet(kind="configuration",
                                                       instance_type="m5.large"))
    group = found["web-group"]
    assert group.rolls is None
    assert str(group.launch_note).startswith("no instance refresh"), group.launch_note


def test_instance_type_change_puts_the_launch_template_in_a_new_version() -> None:
    found = changes(fleet(), fleet(instance_type="m5.large"))
    assert found["web-template"].new_version


def test_launch_template_change_rolls_the_group_by_instance_refresh() -> None:
    found = changes(fleet(), fleet(instance_type="m5.large"))
    rolls = found["web-group"].rolls
    assert str(rolls).startswith("instance refresh (Rolling, keeping 50% healthy)"), rolls


def test_image_trigger_change_replaces_the_image_command() -> None:
    found = changes(fleet(), fleet(image_trigger="hash-2"))
    assert found["image-build"].action == "replace"


def test_image_rebuild_reaches_the_group_through_the_launch_template() -> None:
    found = changes(fleet(), fleet(image_trigger="hash-2"))
    assert found["web-template"].new_version
    assert found["web-group"].rolls is not None


def test_image_rebuild_replaces_an_immutable_launch_configuration() -> None:
    found = changes(fleet(kind="configuration"), fleet(kind="configuration",
                                                       image_trigger="hash-2"))
    assert found["web-configuration"].action == "replace"


def test_kv_change_touches_only_the_kv_resource() -> None:
    found = changes(fleet(), fleet(kv={"log-level": "debug"}))
    assert set(found) == {"kv"}
    assert found["kv"].action == "update"


def test_change_to_an_ignored_input_is_no_change() -> None:
    assert changes(fleet(), fleet(desired=3)) == {}


def test_replace_on_changes_option_forces_a_replacement() -> None:
    before, after = fleet(), fleet()
    for p, v in ((before, "a"), (after, "b")):
        p.add("aws:ssm/parameter:Parameter", "pointer", {"value": v},
              replaceOnChanges=["value"])
    assert changes(before, after)["pointer"].action == "replace"


def test_added_and_removed_resources_are_create_and_delete() -> None:
    before, after = fleet(), fleet()
    before.add(SG, "old-sg", {"description": "old", "vpcId": "vpc-1"})
    after.add(SG, "new-sg", {"description": "new", "vpcId": "vpc-1"})
    found = changes(before, after)
    assert (found["old-sg"].action, found["new-sg"].action) == ("delete", "create")


def test_a_secret_is_never_shown_changed_nor_printed() -> None:
    before, after = fleet(), fleet()
    before.add("aws:ssm/parameter:Parameter", "token", {"value": SECRET})
    after.add("aws:ssm/parameter:Parameter", "token", {"value": SECRET})
    assert "token" not in changes(before, after)


def test_policy_document_change_names_the_statement_that_changed() -> None:
    def policy(action: str) -> Program:
        p = fleet()
        p.add("aws:iam/rolePolicy:RolePolicy", "read", {"policy": json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [action],
                                                     "Resource": "*"}]})})
        return p

    found = changes(policy("s3:GetObject"), policy("s3:PutObject"))
    assert [c.path for c in found["read"].inputs] == ["policy(json).Statement[0].Action"]


def test_plaintext_secret_inside_base64_user_data_is_reported() -> None:
    p = fleet(user_data=f"#!/bin/bash\nconsul keygen={GOSSIP}\n")
    found = plan_model.plaintext_secrets(p.plan(), [GOSSIP])
    assert found == [f"{LT} web-template: userData"]


# --- Markdown --------------------------------------------------------------------------------

def markdown(before: Program, after: Program) -> str:
    return plan_render.diff_markdown("staging", "main (abc123)",
                                     plan_model.diff(before.plan(), after.plan()))


def test_markdown_names_the_replaced_launch_configuration_in_the_table() -> None:
    text = markdown(fleet(kind="configuration"), fleet(kind="configuration",
                                                       instance_type="m5.large"))
    assert f"| **replace** | `web-configuration` | `{LC}` |" in text


def test_markdown_calls_out_the_group_that_rolls_instances() -> None:
    text = markdown(fleet(), fleet(instance_type="m5.large"))
    assert "> **Rolls instances**: `web-group`: instance refresh" in text


def test_markdown_marks_the_input_that_forces_replacement() -> None:
    text = markdown(fleet(), fleet(image_trigger="hash-2"))
    assert "| `triggers` *(forces replacement)* | `[hash-1]` | `[hash-2]` |" in text


def test_markdown_shows_a_user_data_change_as_a_line_diff() -> None:
    text = markdown(fleet(), fleet(user_data="#!/bin/bash\necho booted\n"))
    assert "-echo boot\n+echo booted" in text


def test_markdown_for_no_change_says_so() -> None:
    assert "No changes." in markdown(fleet(), fleet())


def test_code_span_keeps_table_pipes_and_backticks_inert() -> None:
    assert plan_render.code("a|b`c") == "``a\\|b`c``"


# --- stack against stack ---------------------------------------------------------------------

def comparison(left: Program, right: Program) -> plan_comparison.Comparison:
    return plan_comparison.compare(left.plan(), right.plan(), left.stack, right.stack)


def test_compare_lists_setting_values_that_differ() -> None:
    found = comparison(fleet("staging"), fleet("production", instance_type="m5.large"))
    real = [(d.path, d.left, d.right) for d in found.differences if not d.only_stack_name]
    assert real == [("instanceType", "t3.small", "m5.large")]


def test_compare_sets_apart_values_that_only_carry_the_stack_name() -> None:
    found = comparison(fleet("staging"), fleet("production"))
    assert {d.path for d in found.differences if d.only_stack_name} == {"keys[0].path",
                                                                        "tags.env"}


def test_compare_flags_a_resource_only_one_stack_has() -> None:
    prod = fleet("production")
    prod.add(SG, "extra-sg", {"description": "x", "vpcId": "vpc-1"})
    text = plan_render.compare_markdown("staging", "production",
                                        comparison(fleet("staging"), prod))
    assert "differ in structure" in text
    assert f"| `production` | `extra-sg` | `{SG}` |" in text


def test_compare_of_identical_stacks_reports_nothing() -> None:
    text = plan_render.compare_markdown("staging", "production",
                                        comparison(fleet("staging"), fleet("staging")))
    assert "same resources with the same inputs" in text
