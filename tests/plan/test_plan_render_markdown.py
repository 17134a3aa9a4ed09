"""The stack comparison and the text diffs of the offline plan's Markdown, byte for byte.

A reviewer reads the comparison as a whole: a lost blank line breaks a table or a <details>
block, which no substring check notices, so small hand-built comparisons are compared whole.
"""

from __future__ import annotations

import base64

import pytest

from plan.comparison import Comparison, SettingDifference
from plan.model import MISSING, Resource
from plan.render import code, compare_markdown, text_diff


def res(type_: str, name: str) -> Resource:
    return Resource(name, type_, name, None, True, {}, {}, ())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LT = "aws:ec2/launchTemplate:LaunchTemplate web"
ONLY_NAME = SettingDifference("x:y:Z <stack>-n", "name", "staging-n", "production-n", True)
REAL = [
    SettingDifference(LT, "instanceType", "t3.small", "t3.large", False),
    SettingDifference(LT, "userData", "#!/bin/sh\necho a\n", "#!/bin/sh\necho b\n", False),
    SettingDifference("aws:autoscaling/group:Group g", "maxSize", MISSING, 4, False),
]
HEAD = "### Stacks compared: `staging` and `production`\n\n"
STRUCTURE = """\
> **The stacks differ in structure, not only in setting values**: 3 resource(s) exist in one \
stack only.

| only in | resource | type |
|---|---|---|
| `staging` | `image-build` | `command:local:Command` |
| `production` | `logs-production` | `aws:s3/bucket:Bucket` |
| `production` | `n` | `x:y:Z` |

"""
VALUES = """\
#### Setting values that differ (3)

| resource | input | `staging` | `production` |
|---|---|---|---|
| `aws:ec2/launchTemplate:LaunchTemplate web` | `instanceType` | `t3.small` | `t3.large` |
| `aws:ec2/launchTemplate:LaunchTemplate web` | `userData` | `"#!/bin/sh\\necho a\\n"` | \
`"#!/bin/sh\\necho b\\n"` |
| `aws:autoscaling/group:Group g` | `maxSize` | *(none)* | `4` |

<details><summary>`userData` of `aws:ec2/launchTemplate:LaunchTemplate web`</summary>

`userData`:

```diff
--- staging
+++ production
@@ -1,2 +1,2 @@
 #!/bin/sh
-echo a
+echo b
```

</details>

"""
NO_VALUES = "#### Setting values that differ (0)\n\nNone.\n\n"
NAMED = """\
<details><summary>1 input(s) differ only by the stack's name</summary>

| resource | input | `staging` | `production` |
|---|---|---|---|
| `x:y:Z <stack>-n` | `name` | `staging-n` | `production-n` |

</details>
"""


def test_comparison_shows_structure_values_and_name_only_differences_as_reviewers_read_it(
        ) -> None:
    comparison = Comparison(
        only_left=[res("command:local:Command", "image-build")],
        only_right=[res("aws:s3/bucket:Bucket", "logs-production"), res("x:y:Z", "n")],
        differences=[*REAL, ONLY_NAME])
    assert compare_markdown("staging", "production", comparison) == \
        HEAD + STRUCTURE + VALUES + NAMED


def test_identical_stacks_say_so_and_nothing_else() -> None:
    assert compare_markdown("staging", "production", Comparison([], [], [])) == \
        HEAD + "The stacks manage the same resources with the same inputs.\n"


def test_stacks_differing_only_by_name_say_no_setting_value_differs() -> None:
    assert compare_markdown("staging", "production", Comparison([], [], [ONLY_NAME])) == \
        HEAD + NO_VALUES + NAMED


def test_a_structural_difference_alone_still_says_no_setting_value_differs() -> None:
    comparison = Comparison([], [res("t:t:T", "x")], [])
    assert compare_markdown("staging", "production", comparison) == HEAD + (
        "> **The stacks differ in structure, not only in setting values**: 1 resource(s) exist "
        "in one stack only.\n\n| only in | resource | type |\n|---|---|---|\n"
        "| `production` | `x` | `t:t:T` |\n\n") + NO_VALUES[:-1]


def test_real_differences_without_text_have_no_details_block() -> None:
    assert compare_markdown("a", "b", Comparison([], [], REAL[:1])) == (
        "### Stacks compared: `a` and `b`\n\n#### Setting values that differ (1)\n\n"
        "| resource | input | `a` | `b` |\n|---|---|---|---|\n"
        "| `aws:ec2/launchTemplate:LaunchTemplate web` | `instanceType` | `t3.small` | "
        "`t3.large` |\n")


# --- text diffs ---------------------------------------------------------------------------------

TEN = "".join(f"line {i}\n" for i in range(10))


def test_user_data_is_diffed_decoded_with_two_lines_of_context() -> None:
    after = TEN.replace("line 5\n", "line five\n")
    assert text_diff("userData", b64(TEN), b64(after), "old", "new") == [
        "", "`userData`:", "", "```diff", "--- old", "+++ new", "@@ -4,5 +4,5 @@",
        " line 3", " line 4", "-line 5", "+line five", " line 6", " line 7", "```"]


def test_text_only_one_side_has_is_diffed_against_nothing() -> None:
    assert text_diff("script", MISSING, "a\nb", "old", "new") == [
        "", "`script`:", "", "```diff", "--- old", "+++ new", "@@ -0,0 +1,2 @@", "+a", "+b",
        "```"]


def test_single_line_values_get_no_text_diff() -> None:
    assert text_diff("script", "a", "b", "old", "new") == []
    assert text_diff("userData", b64("a"), b64("b"), "old", "new") == []


def test_only_user_data_is_decoded_before_diffing() -> None:
    assert text_diff("script", b64(TEN), b64(TEN + "x\n"), "old", "new") == []


def test_a_text_diff_over_two_hundred_lines_is_cut_with_the_count_left_out() -> None:
    before = "".join(f"a{i}\n" for i in range(150))
    after = "".join(f"b{i}\n" for i in range(150))
    lines = text_diff("s", before, after, "x", "y")
    # 3 header lines and 300 changed lines: the first 200 are kept.
    assert lines[4:7] == ["--- x", "+++ y", "@@ -1,150 +1,150 @@"]
    assert lines[-3:] == ["+b46", "… 103 more lines", "```"]
    assert len(lines) == 4 + 200 + 2


def test_a_text_diff_of_exactly_two_hundred_lines_is_whole() -> None:
    before = "".join(f"a{i}\n" for i in range(98))
    after = "".join(f"b{i}\n" for i in range(99))
    lines = text_diff("s", before, after, "x", "y")
    assert len(lines) == 4 + 200 + 1
    assert lines[-2:] == ["+b98", "```"]


# --- code spans ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "span"), [
    ("a", "`a`"), ("", "``"), ("a`b", "``a`b``"), ("`a", "`` `a ``"), ("a`", "`` a` ``"),
    ("a``b`", "``` a``b` ```"), ("x|y", "`x\\|y`"), ("l1\nl2", "`l1⏎l2`"),
])
def test_code_span_survives_backticks_pipes_and_newlines(text: str, span: str) -> None:
    assert code(text) == span


def test_a_user_data_diff_is_never_cut_so_every_command_reaches_the_reviewer() -> None:
    before = "".join(f"a{i}\n" for i in range(150))
    after = "".join(f"b{i}\n" for i in range(150))
    lines = text_diff("userData", b64(before), b64(after), "x", "y")
    assert len(lines) == 4 + 3 + 300 + 1
    assert lines[-2:] == ["+b149", "```"]
