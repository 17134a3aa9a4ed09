"""plan/model.py's pure pieces, one behaviour each, on hand-built resources.

tests/plan/test_plan.py drives the model through registrations of a small program; these pin the
exact values (keys, paths, reasons, roll estimates) a reviewer reads in the plan.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from mock_engine import PROMOTED_AMI, SECRET, UNKNOWN, Registration
from plan.comparison import SettingDifference, compare
from plan.model import (
    GROUP,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    MISSING,
    Change,
    InputChange,
    Resource,
    dependency_order,
    diff,
    flatten,
    is_mock,
    json_document,
    plaintext_secrets,
    resource_key,
    resources,
    roll_estimate,
    top_key,
    tree_order,
)
from plan.resource_types import COMMAND
from plan.user_data_text import decoded_user_data


def res(key: str, type_: str = "a:b:C", inputs: Mapping[str, Any] | None = None,
        deps: Sequence[str] = (), options: Mapping[str, Any] | None = None,
        name: str | None = None, parent: str | None = None) -> Resource:
    return Resource(key, type_, name or key, parent, True, inputs or {}, options or {},
                    tuple(deps))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- keys and registrations ---------------------------------------------------------------------

@pytest.mark.parametrize(("urn", "key"), [
    ("urn:pulumi:staging::webtier::pulumi:pulumi:Stack::webtier-staging", "pulumi:pulumi:Stack"),
    ("urn:pulumi:production::webtier::webtier:fleet:Fleet$aws:iam/role:Role::web",
     "webtier:fleet:Fleet$aws:iam/role:Role::web"),
    ("not-a-urn", "not-a-urn"),
])
def test_resource_key_drops_stack_and_project(urn: str, key: str) -> None:
    assert resource_key(urn) == key


def test_registrations_become_stack_free_plan_resources() -> None:
    stack = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    role = "urn:pulumi:s::p::w:c:C$aws:iam/role:Role::r"
    reg = Registration(
        type="aws:iam/role:Role", name="r", urn=role, parent=stack, custom=True,
        inputs={"n": 2.0, "f": 2.5, "ref": "urn:pulumi:s::p::a:b:C$aws:s3/bucket:Bucket::b",
                "bad": "urn:pulumi:broken", "t": ("x", {1: SECRET}), "u": UNKNOWN},
        options={"protect": True, "dependsOn": [role, stack, role], "ignoreChanges": ("a",)})
    root = Registration(type="pulumi:pulumi:Stack", name="p-s", urn=stack, parent="",
                        custom=False, inputs={}, options={})
    assert resources([root, reg]) == [
        Resource("pulumi:pulumi:Stack", "pulumi:pulumi:Stack", "p-s", None, False, {}, {}, ()),
        Resource("w:c:C$aws:iam/role:Role::r", "aws:iam/role:Role", "r", "pulumi:pulumi:Stack",
                 True,
                 {"n": 2, "f": 2.5, "ref": "<Bucket b>", "bad": "urn:pulumi:broken",
                  "t": ["x", {"1": SECRET}], "u": UNKNOWN},
                 {"ignoreChanges": ["a"], "protect": True},
                 ("pulumi:pulumi:Stack", "w:c:C$aws:iam/role:Role::r")),
    ]
    assert isinstance(resources([reg])[0].inputs["n"], int)
    assert list(resources([reg])[0].options) == ["ignoreChanges", "protect"]


def test_a_registration_without_depends_on_depends_on_nothing() -> None:
    reg = Registration(type="t", name="n", urn="u", parent="", custom=True, inputs={},
                       options={"dependsOn": None})
    assert resources([reg])[0].depends_on == ()


def test_labels_are_type_then_name() -> None:
    assert res("k", "a:b:C", name="n").label == "a:b:C n"
    assert Change("k", "a:b:C", "n", "create").label == "a:b:C n"


def test_missing_shows_as_none() -> None:
    assert repr(MISSING) == "(none)"


@pytest.mark.parametrize(("value", "mock"), [
    (PROMOTED_AMI, True), ("web-group-mock", True), ("arn:aws:sns:x:1:topic/mock", True),
    ("web-mockery", False), ("mock", False), ("web-group", False)])
def test_is_mock_labels_only_what_the_engine_made_up(value: str, mock: bool) -> None:
    assert is_mock(value) is mock


# --- order ----------------------------------------------------------------------------------

def test_tree_order_puts_parents_first_and_siblings_by_name_then_type() -> None:
    items = [res("c2", "z:z:Z", name="b", parent="p"), res("c1", "y:y:Y", name="b", parent="p"),
             res("c0", name="a", parent="p"), res("p", name="root"),
             res("o", name="orphan", parent="gone")]
    assert [r.key for r in tree_order(items)] == ["o", "p", "c0", "c1", "c2"]


def test_dependency_order_puts_what_a_resource_reads_first() -> None:
    items = [res("a", deps=["c"]), res("b"), res("c", deps=["b", "elsewhere"])]
    assert [r.key for r in dependency_order(items)] == ["b", "c", "a"]


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "doc"), [
    ('{"a": 1}', {"a": 1}), (' [1] ', [1]), ("{bad", None), ("1", None), ('"s"', None),
    ("", None), ("plain", None)])
def test_json_document_is_only_an_object_or_array(text: str, doc: Any) -> None:
    assert json_document(text) == doc


def test_flatten_walks_maps_lists_and_json_documents_to_their_leaves() -> None:
    value = {"a": {}, "b": [], "c": [1, {"d": 2}], "s": ["x", SECRET, UNKNOWN, None, True, 1.5],
             "p": json.dumps({"S": [{"E": "A"}]}), "q": json.dumps([{"x": 1}]), "e": "{}",
             "g": "{bad", "n": {"m": {"k": "v"}}}
    assert flatten(value) == {
        "a": {}, "b": (), "c[0]": 1, "c[1].d": 2, "s": ("x", SECRET, UNKNOWN, None, True, 1.5),
        "p(json).S[0].E": "A", "q(json)[0].x": 1, "e": "{}", "g": "{bad", "n.m.k": "v"}
    assert list(flatten({"b": 1, "a": 2})) == ["a", "b"]


def test_flatten_of_an_empty_map_at_the_top_is_nothing() -> None:
    assert flatten({}) == {}


@pytest.mark.parametrize(("path", "top"), [
    ("a.b", "a"), ("a[0].b", "a"), ("a(json).x", "a"), ("abc", "abc"), ("a.b.c", "a")])
def test_top_key_is_the_first_segment(path: str, top: str) -> None:
    assert top_key(path) == top


@pytest.mark.parametrize(("value", "text"), [
    (b64("hello world hello"), "hello world hello"),
    # Sixteen characters are long enough to be user data, fifteen are not.
    ("MDEy MzQ1 Njc4 \n", "012345678"), ("MDEy MzQ1 Njc4 ", None),
    ("aGVsbG8g\nd29ybGQgaGVsbG8=", "hello world hello"),
    ("aGVsbG8gd29ybGQgaGVsbG8", None),  # bad padding
    ("hello world hello world!", None),  # not base64 characters
    (base64.b64encode(b"\xff\xfe" * 10).decode(), None),  # not UTF-8
    ("short", None),
])
def test_decoded_user_data_is_only_long_valid_base64_text(value: str, text: str | None) -> None:
    assert decoded_user_data(value) == text


# --- changes ----------------------------------------------------------------------------------

REFRESH = {"strategy": "Rolling",
           "preferences": {"minHealthyPercentage": 75, "instanceWarmup": 60}}


def group(**inputs: Any) -> dict[str, Any]:
    return {"desiredCapacity": 4, "launchTemplate": {"version": "1"}, **inputs}


def test_a_launch_template_version_bump_rolls_the_group_by_instance_refresh() -> None:
    before = [res("g", GROUP, group(instanceRefresh=REFRESH))]
    after = [res("g", GROUP, group(instanceRefresh=REFRESH, launchTemplate={"version": "2"}))]
    assert diff(before, after) == [Change(
        "g", GROUP, "g", "update", [InputChange("launchTemplate.version", "1", "2", False)], [],
        ["changes in place: launchTemplate"],
        rolls="instance refresh (Rolling, keeping 75% healthy): every running instance is "
              "replaced from the new launch settings; about 4 batch(es) of ~1 min, ~4 min in "
              "all; lowest in service 3 of 4")]


def test_an_instance_refresh_without_a_minimum_names_no_percentage() -> None:
    refresh = {"strategy": "Rolling"}
    before = [res("g", GROUP, group(instanceRefresh=refresh))]
    after = [res("g", GROUP, group(instanceRefresh=refresh, launchTemplate={"version": "2"}))]
    assert diff(before, after)[0].rolls == (
        "instance refresh (Rolling): every running instance is replaced from the new launch "
        "settings; about 4 batch(es) of ~0 min, ~0 min in all; lowest in service 3 of 4")


@pytest.mark.parametrize("path", ["launchConfiguration", "mixedInstancesPolicy"])
def test_other_launch_settings_without_a_refresh_only_reach_new_instances(path: str) -> None:
    after = [res("g", GROUP, {path: "new"})]
    assert diff([res("g", GROUP, {path: "old"})], after) == [Change(
        "g", GROUP, "g", "update", [InputChange(path, "old", "new", False)], [],
        [f"changes in place: {path}"],
        launch_note="no instance refresh: running instances keep the old launch settings; "
                    "only instances launched from now on use the new ones")]


def test_a_group_change_outside_its_launch_settings_rolls_nothing() -> None:
    before = [res("g", GROUP, group(instanceRefresh=REFRESH, maxSize=4))]
    after = [res("g", GROUP, group(instanceRefresh=REFRESH, maxSize=8))]
    assert diff(before, after) == [Change(
        "g", GROUP, "g", "update", [InputChange("maxSize", 4, 8, False)], [],
        ["changes in place: maxSize"])]


def test_a_renamed_group_is_replaced_with_all_its_instances() -> None:
    assert diff([res("g", GROUP, {"name": "a"})], [res("g", GROUP, {"name": "b", "x": 1})]) == [
        Change("g", GROUP, "g", "replace",
               [InputChange("name", "a", "b", True), InputChange("x", MISSING, 1, False)], [],
               ["name can only change by replacement; replaces the Auto Scaling group: the new "
                "group starts at desiredCapacity, not the live size, and launches every "
                "instance anew"],
               rolls="the group is replaced: every instance is replaced with it")]


def test_a_new_group_rolls_nothing() -> None:
    assert diff([], [res("g", GROUP, group())]) == [Change("g", GROUP, "g", "create")]


def test_several_inputs_forcing_replacement_are_named_sorted() -> None:
    sg = "aws:ec2/securityGroup:SecurityGroup"
    change = diff([res("s", sg, {"vpcId": "a", "name": "a", "x": 1})],
                  [res("s", sg, {"vpcId": "b", "name": "b", "x": 2})])[0]
    assert change.reasons == ["name, vpcId can only change by replacement; a new security "
                              "group: every rule and every instance using it moves"]


def test_an_in_place_change_names_each_changed_input_once_sorted() -> None:
    change = diff([res("r", inputs={"b": {"x": 1, "y": 1}, "a": 1})],
                  [res("r", inputs={"b": {"x": 2, "y": 2}, "a": 2})])[0]
    assert change.reasons == ["changes in place: a, b"]


def test_a_launch_template_input_change_makes_a_new_version() -> None:
    change = diff([res("t", LAUNCH_TEMPLATE, {"imageId": "a", "userData": "x"})],
                  [res("t", LAUNCH_TEMPLATE, {"imageId": "b", "userData": "y"})])[0]
    assert (change.action, change.new_version, change.reasons) == ("update", True, [
        "launch template versions are immutable: the change to imageId, userData makes a new "
        "version"])


def test_a_replaced_launch_template_is_not_a_new_version() -> None:
    change = diff([res("t", LAUNCH_TEMPLATE, {"name": "a"})],
                  [res("t", LAUNCH_TEMPLATE, {"name": "b"})])[0]
    assert (change.action, change.new_version) == ("replace", False)


def test_only_an_option_change_is_listed_as_options_only() -> None:
    assert diff([res("t", options={"protect": False})], [res("t", options={"protect": True})]) \
        == [Change("t", "a:b:C", "t", "same", [], [InputChange("protect", False, True, False)])]


def test_an_unchanged_resource_is_not_listed() -> None:
    assert diff([res("t", inputs={"a": [1]}, options={"o": 1})],
                [res("t", inputs={"a": [1]}, options={"o": 1})]) == []


@pytest.mark.parametrize(("before", "after"), [(1, 1.0), (1, True), (0, False), ("1", 1)])
def test_values_of_another_type_are_a_change(before: Any, after: Any) -> None:
    assert diff([res("t", inputs={"v": before})], [res("t", inputs={"v": after})]) == [
        Change("t", "a:b:C", "t", "update", [InputChange("v", before, after, False)], [],
               ["changes in place: v"])]


@pytest.mark.parametrize("marker", [SECRET, UNKNOWN])
def test_a_marker_is_the_same_as_itself_and_differs_from_any_value(marker: Any) -> None:
    assert diff([res("t", inputs={"v": marker})], [res("t", inputs={"v": marker})]) == []
    assert len(diff([res("t", inputs={"v": "x"})], [res("t", inputs={"v": marker})])) == 1
    assert len(diff([res("t", inputs={"v": marker})], [res("t", inputs={"v": "x"})])) == 1


def test_an_input_only_one_side_has_is_a_change_from_or_to_none() -> None:
    change = diff([res("t", inputs={"gone": 1})], [res("t", inputs={"new": None})])[0]
    assert change.inputs == [InputChange("gone", 1, MISSING, False),
                             InputChange("new", MISSING, None, False)]


@pytest.mark.parametrize(("ignored", "changed"), [
    (["tags"], ["tagsAll"]), (["tags.a"], ["tags.b", "tagsAll"]),
    (["tags[0]"], ["tags.a", "tags.b", "tagsAll"]), (["tagsAll", "tags"], [])])
def test_ignore_changes_hides_the_input_and_everything_under_it(ignored: list[str],
                                                                changed: list[str]) -> None:
    before = res("t", inputs={"tags": {"a": 1, "b": 1}, "tagsAll": 1}, options={})
    after = res("t", inputs={"tags": {"a": 2, "b": 2}, "tagsAll": 2},
                options={"ignoreChanges": ignored})
    assert [c.path for change in diff([before], [after]) for c in change.inputs] == changed


def test_replace_on_changes_forces_replacement_by_its_first_segment() -> None:
    after = res("c", inputs={"triggers": ["b"], "env": {"x": 2}},
                options={"replaceOnChanges": ["env.x"]})
    change = diff([res("c", inputs={"triggers": ["a"], "env": {"x": 1}})], [after])[0]
    assert change.inputs == [InputChange("env.x", 1, 2, True),
                             InputChange("triggers", ("a",), ("b",), False)]
    assert change.reasons == ["env can only change by replacement"]


def test_a_command_that_runs_again_changes_what_reads_its_output() -> None:
    def program(create: str) -> list[Resource]:
        return [res("c", COMMAND, {"create": create}), res("x", deps=["c"]),
                res("lc", LAUNCH_CONFIGURATION, deps=["c"])]
    assert diff(program("a"), program("b")) == [
        Change("c", COMMAND, "c", "update", [InputChange("create", "a", "b", False)], [],
               ["changes in place: create"]),
        Change("lc", LAUNCH_CONFIGURATION, "lc", "replace", [], [],
               ["immutable: every change replaces it", "reads the output of c, which runs again"]),
        Change("x", "a:b:C", "x", "update", [], [], ["reads the output of c, which runs again"]),
    ]


def test_an_in_place_update_of_an_ordinary_resource_changes_nothing_that_reads_it() -> None:
    def program(v: int) -> list[Resource]:
        return [res("a", inputs={"v": v}), res("b", deps=["a"])]
    assert [c.key for c in diff(program(1), program(2))] == ["a"]


def test_a_resource_reading_two_replaced_ones_names_both_and_stays_replaced_once() -> None:
    lc = LAUNCH_CONFIGURATION
    def program(v: str) -> list[Resource]:
        return [res("a", lc, {"v": v}), res("b", lc, {"v": v}),
                res("c", lc, {"v": v}, deps=["a", "b"])]
    change = diff(program("1"), program("2"))[2]
    assert (change.action, change.reasons) == ("replace", [
        "immutable: every change replaces it",
        "reads a, which is replaced, b, which is replaced"])


def test_a_new_template_version_reaches_the_group_through_its_dependency() -> None:
    def program(image: str) -> list[Resource]:
        return [res("t", LAUNCH_TEMPLATE, {"imageId": image}),
                res("g", GROUP, group(instanceRefresh=REFRESH), deps=["t"])]
    change = diff(program("a"), program("b"))[0]
    assert change == Change(
        "g", GROUP, "g", "update", [], [], ["reads t, which gets a new version"],
        rolls="instance refresh (Rolling, keeping 75% healthy): every running instance is "
              "replaced from the new launch settings; about 4 batch(es) of ~1 min, ~4 min in "
              "all; lowest in service 3 of 4")


def test_a_deleted_resource_is_listed_in_tree_order_among_the_rest() -> None:
    before = [res("a", name="a"), res("m", name="m"), res("z", name="z")]
    after = [res("z", name="z", inputs={"v": 1}), res("a", name="a", inputs={"v": 1})]
    assert [(c.key, c.action) for c in diff(before, after)] == [
        ("a", "update"), ("m", "delete"), ("z", "update")]


# --- roll estimates -------------------------------------------------------------------------

def refreshing(desired: Any = 10, **preferences: Any) -> Resource:
    return res("g", GROUP, {"desiredCapacity": desired, "defaultInstanceWarmup": 300,
                            "instanceRefresh": {"strategy": "Rolling",
                                                "preferences": preferences}})


@pytest.mark.parametrize(("group_", "text"), [
    # 10 at (120-80)% = 4 a batch, in two checkpoint segments of 5 (2 batches each), 2 extra
    # instances above desired: 4 x 2 min + one 10 min pause.
    (refreshing(instanceWarmup=120, minHealthyPercentage=80, maxHealthyPercentage=120,
                checkpointPercentages=[50, 100], checkpointDelay=600),
     "about 4 batch(es) of ~2 min, ~18 min in all; lowest in service 8 of 10"),
    # AWS's defaults: 90% healthy, 100% at most, the group's default warmup.
    (refreshing(), "about 10 batch(es) of ~5 min, ~50 min in all; lowest in service 9 of 10"),
    (refreshing(minHealthyPercentage=50),
     "about 2 batch(es) of ~5 min, ~10 min in all; lowest in service 5 of 10"),
    (refreshing(maxHealthyPercentage=110),
     "about 5 batch(es) of ~5 min, ~25 min in all; lowest in service 9 of 10"),
    (refreshing(10.0, checkpointPercentages=[50]),
     "about 5 batch(es) of ~5 min, ~25 min in all; lowest in service 9 of 10"),
])
def test_roll_estimate_follows_the_refresh_preferences(group_: Resource, text: str) -> None:
    assert roll_estimate(group_) == text


def test_roll_estimate_without_any_warmup_counts_zero_minutes() -> None:
    group_ = res("g", GROUP, {"desiredCapacity": 2, "instanceRefresh": {"strategy": "Rolling"}})
    assert roll_estimate(group_) == \
        "about 2 batch(es) of ~0 min, ~0 min in all; lowest in service 1 of 2"


@pytest.mark.parametrize("group_", [
    res("g", GROUP, {"desiredCapacity": 2}),
    res("g", GROUP, {"desiredCapacity": 2, "instanceRefresh": {"strategy": ""}}),
    refreshing(desired=None), refreshing(desired="2"),
    res("t", LAUNCH_TEMPLATE, {"desiredCapacity": 2, "instanceRefresh": {"strategy": "R"}}),
])
def test_no_roll_estimate_without_a_refresh_or_a_known_size(group_: Resource) -> None:
    assert roll_estimate(group_) is None


# --- stack against stack ---------------------------------------------------------------------

def test_compare_matches_resources_by_name_without_the_stack_and_sorts_out_name_only_diffs(
        ) -> None:
    def lt(stack: str, **inputs: Any) -> Resource:
        return res(f"t::web-{stack}-lt", "t", {"n": f"web-{stack}", "same": 1, **inputs},
                   name=f"web-{stack}-lt")
    left = [lt("staging", l=["staging-a", "x"], l2=["staging", "x"], l3=["a"], size=1,
               ud=b64("#!/bin/sh\nstack=staging\n")), res("t::only-left", "t")]
    right = [lt("production", l=["production-a", "x"], l2=["production", "y"], l3=["a", "b"],
                size=2, ud=b64("#!/bin/sh\nstack=production\n")), res("t::only-right", "t")]
    result = compare(left, right, "staging", "production")
    assert (result.only_left, result.only_right) == ([left[1]], [right[1]])
    label = "t web-<stack>-lt"
    assert result.differences == [
        SettingDifference(label, "l", ("staging-a", "x"), ("production-a", "x"), True),
        SettingDifference(label, "l2", ("staging", "x"), ("production", "y"), False),
        SettingDifference(label, "l3", ("a",), ("a", "b"), False),
        SettingDifference(label, "n", "web-staging", "web-production", True),
        SettingDifference(label, "size", 1, 2, False),
        SettingDifference(label, "ud", left[0].inputs["ud"], right[0].inputs["ud"], True),
    ]


@pytest.mark.parametrize(("a", "b", "only_name"), [
    ("x", "y", False),  # no stack name in it
    ("staging", "staging", False),  # the same (compare lists only what differs)
    ("staging-x", "production-y", False),
    (("staging",), ("production",), True),
    (("a", "staging"), ("a", "production"), True),
    ((), (), False),
    (("staging",), "production", False),
    (1, 1, False),
])
def test_a_difference_is_name_only_when_swapping_the_stack_name_explains_it(
        a: Any, b: Any, only_name: bool) -> None:
    left = [res("k", inputs={"v": a})]
    right = [res("k", inputs={"v": b})]
    found = compare(left, right, "staging", "production").differences
    assert [d.only_stack_name for d in found] == ([only_name] if a != b else [])


def test_plaintext_secrets_are_found_in_text_lists_and_base64_user_data() -> None:
    items = [res("a", inputs={"p": "xx-s3cret-xx", "l": [1, "s3cret"], "n": 5, "ok": "fine",
                              "ud": b64("pw=s3cret\nmore text")}),
             res("b", inputs={"x": "y"})]
    assert plaintext_secrets(items, ["s3cret", ""]) == \
        ["a:b:C a: l", "a:b:C a: p", "a:b:C a: ud"]


def test_an_empty_secret_matches_nothing() -> None:
    assert plaintext_secrets([res("a", inputs={"p": "x"})], [""]) == []
