"""The offline plan's PR comment, whole (the survivors of scripts/mutation in plan/render.py).

The stack tests check that a change shows up; a reviewer reads the comment as a whole, so one
synthetic plan with every kind of row is compared byte for byte: a lost blank line breaks the
Markdown table or the <details> block, which no substring check notices.
"""

from __future__ import annotations

from plan.model import LAUNCH_TEMPLATE, MISSING, Change, InputChange
from plan.render import diff_markdown

CHANGES = [
    Change("k1", "aws:autoscaling/group:Group", "web-fleet", "replace",
           inputs=[InputChange("maxSize", 10, 20, True)],
           options=[InputChange("deleteBeforeReplace", False, True, False)],
           reasons=["maxSize"], rolls="all 4 at once"),
    Change("k2", LAUNCH_TEMPLATE, "web-lt", "update",
           inputs=[InputChange("script", "a\nb\n", "a\nc\n", False)],
           launch_note="new instances only"),
    Change("k3", "aws:s3/bucket:Bucket", "logs", "create",
           inputs=[InputChange("acl", MISSING, "private", False)]),
    Change("k4", "aws:s3/bucket:Bucket", "old", "delete"),
    Change("k5", "a:b:C", "t", "same",
           options=[InputChange("protect", False, True, False)]),
    Change("k6", "aws:iam/role:Role", "r", "update", rolls="one by one"),
]

EXPECTED = """\
### Offline plan for `staging`: `main` → working tree

> A note.

**1** to replace · **2** to update · **1** to create · **1** to delete

> **Rolls instances**: `web-fleet`: all 4 at once

> **New launch settings**: `web-lt`: new instances only

> **Rolls instances**: `r`: one by one

| action | resource | type | why |
|---|---|---|---|
| **replace** | `web-fleet` | `aws:autoscaling/group:Group` | maxSize; rolls instances |
| **new version** | `web-lt` | `aws:ec2/launchTemplate:LaunchTemplate` |  |
| create | `logs` | `aws:s3/bucket:Bucket` |  |
| **delete** | `old` | `aws:s3/bucket:Bucket` |  |
| options only | `t` | `a:b:C` | resource options change; nothing changes in the cloud |
| update | `r` | `aws:iam/role:Role` | rolls instances |

<details><summary>Changed inputs</summary>

#### `web-fleet` (replace)

| input | before | after |
|---|---|---|
| `maxSize` *(forces replacement)* | `10` | `20` |
| `option deleteBeforeReplace` | `false` | `true` |

#### `web-lt` (update)

| input | before | after |
|---|---|---|
| `script` | `"a\\nb\\n"` | `"a\\nc\\n"` |

`script`:

```diff
--- before
+++ after
@@ -1,2 +1,2 @@
 a
-b
+c
```

#### `logs` (create)

| input | before | after |
|---|---|---|
| `acl` | *(none)* | `private` |

#### `t` (same)

| input | before | after |
|---|---|---|
| `option protect` | `false` | `true` |

</details>
"""


def test_pr_comment_shows_every_kind_of_change_as_reviewers_read_it() -> None:
    assert diff_markdown("staging", "main", CHANGES, note="A note.") == EXPECTED


def test_plan_without_changes_says_so_after_the_note() -> None:
    assert diff_markdown("production", "HEAD~1", [], note="n") == \
        "### Offline plan for `production`: `HEAD~1` → working tree\n\n> n\n\nNo changes.\n"


def test_every_plain_text_secret_is_its_own_quote_apart_from_what_follows() -> None:
    # Without the blank lines Markdown runs the quotes and "No changes." into one paragraph.
    assert diff_markdown("staging", "main", [], warnings=["webtier:a", "webtier:b"]) == (
        "### Offline plan for `staging`: `main` → working tree\n\n"
        "> **Secret in plain text**: `webtier:a`\n\n"
        "> **Secret in plain text**: `webtier:b`\n\n"
        "No changes.\n")


def test_a_secret_warning_stands_apart_from_the_change_counts() -> None:
    text = diff_markdown("staging", "main", CHANGES[3:4], warnings=["webtier:a"], note="n")
    assert text.split("\n")[:8] == [
        "### Offline plan for `staging`: `main` → working tree", "", "> n", "",
        "> **Secret in plain text**: `webtier:a`", "",
        "**0** to replace · **0** to update · **0** to create · **1** to delete", ""]
