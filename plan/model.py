"""The offline plan's model: recorded registrations as comparable resources, and what changes do.

Pure data, no I/O: `plan/cli.py` feeds it the mock engine's registrations. What each resource type
replaces on is data in plan/resource_types.py; what rolls instances is decided here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from mock_engine import PROMOTED_AMI, SECRET, UNKNOWN
from plan.resource_types import (
    ALL,
    COMMAND,
    GROUP,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    OUTPUTS_CHANGE_ON_UPDATE,
    REPLACED_ON,
    REPLACEMENT_CONSEQUENCE,
    ROLLOUT_START,
    STACK,
)
from plan.rollout_estimate import estimate
from plan.user_data_text import decoded_user_data

# Values the mock engine makes up where AWS would assign them: names and ARNs ending in -mock (or
# .../mock), and the AMI a promotion "finds". The plan labels them so nobody takes them as real.
_MOCK_VALUE = re.compile(rf"{re.escape(PROMOTED_AMI)}|[-/]mock\b")


def is_mock(value: str) -> bool:
    return bool(_MOCK_VALUE.search(value))


Action = Literal["create", "delete", "replace", "update", "same"]
Scalar = str | int | float | bool | None


class RegistrationLike(Protocol):
    """What the plan reads from `mock_engine.Registration`."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]


_URN = re.compile(r"^urn:pulumi:(?P<stack>[^:]+)::(?P<project>[^:]+)::(?P<type>.+)::(?P<name>.*)$")


def resource_key(urn: str) -> str:
    """The URN without stack and project: the same resource has the same key in every stack."""
    m = _URN.match(urn)
    if not m:
        return urn
    if m["type"] == STACK:
        return STACK  # the root is named after the stack; there is one per stack
    return f"{m['type']}::{m['name']}"


def _normalise(value: Any) -> Any:
    """Plain data with markers kept; references to resources become their stack-free keys."""
    if value is SECRET or value is UNKNOWN:
        return value
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, str) and value.startswith("urn:pulumi:"):
        m = _URN.match(value)  # a resource reference: its type's last part and name are enough
        return f"<{m['type'].rsplit(':', 1)[-1]} {m['name']}>" if m else value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles: show 2, not 2.0
    return value


@dataclass(frozen=True)
class Resource:
    """One registration, as the plan compares it."""

    key: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: Mapping[str, Any]
    options: Mapping[str, Any]
    depends_on: tuple[str, ...]
    refresh: Mapping[str, Any] | None = None
    """A group's instance refresh as the rollout gate starts it (components/fleet/rollout_start.py),
    in the provider's instanceRefresh shape; None: the group's own instanceRefresh, if any."""

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"

    def refresh_flat(self) -> dict[str, Any]:
        """Inputs with the refresh that rolls this group under `instanceRefresh.`."""
        flat = self.flat()
        if self.refresh is not None:
            flat.update(flatten({"instanceRefresh": self.refresh}))
        return flat

    def flat(self) -> dict[str, Any]:
        return flatten(self.inputs)


def resources(registrations: Iterable[RegistrationLike]) -> list[Resource]:
    """The registrations as plan resources, in registration order."""
    out: list[Resource] = []
    for reg in registrations:
        options = dict(reg.options)
        depends = tuple(sorted({resource_key(u) for u in options.pop("dependsOn", []) or []}))
        out.append(Resource(
            key=resource_key(reg.urn),
            type=reg.type,
            name=reg.name,
            parent=resource_key(reg.parent) if reg.parent else None,
            custom=reg.custom,
            inputs=_normalise(reg.inputs),
            options={k: _normalise(v) for k, v in sorted(options.items())},
            depends_on=depends,
        ))
    return _gate_refreshes(out)


def _gate_refreshes(items: list[Resource]) -> list[Resource]:
    """Each group rolled by the rollout gate, with the refresh the gate starts for it."""
    refreshes: dict[str, dict[str, Any]] = {}
    for r in items:
        if r.type == ROLLOUT_START:
            prefs = r.inputs.get("preferences") or {}
            for key in r.depends_on:
                refreshes[key] = {"strategy": "Rolling", "preferences": {
                    k[:1].lower() + k[1:]: v for k, v in prefs.items()}}
    return [replace(r, refresh=refreshes[r.key]) if r.type == GROUP and r.key in refreshes
            else r for r in items]


def tree_order(items: Iterable[Resource]) -> list[Resource]:
    """Parents before children, siblings by name then type: the same order for the same set,
    whatever order the engine happened to receive the registrations in."""
    items = list(items)
    keys = {r.key for r in items}
    children: dict[str | None, list[Resource]] = {}
    for res in items:
        children.setdefault(res.parent if res.parent in keys else None, []).append(res)
    out: list[Resource] = []

    def walk(parent: str | None) -> None:
        for res in sorted(children.get(parent, []), key=lambda r: (r.name, r.type, r.key)):
            out.append(res)
            walk(res.key)

    walk(None)
    return out


def dependency_order(items: Iterable[Resource]) -> list[Resource]:
    """Every resource after the resources it reads from (tree order among independent ones)."""
    ordered = tree_order(items)
    by_key = {r.key: r for r in ordered}
    seen: set[str] = set()
    out: list[Resource] = []

    def visit(res: Resource) -> None:
        if res.key in seen:
            return
        seen.add(res.key)
        for dep in res.depends_on:
            if dep in by_key:
                visit(by_key[dep])
        out.append(res)

    for res in ordered:
        visit(res)
    return out


def json_document(value: str) -> Any | None:
    """The parsed document if ``value`` is a JSON object or array (IAM policies), else None."""
    text = value.strip()
    if not (text.startswith("{") or text.startswith("[")):
        return None
    try:
        return json.loads(text)  # starting with { or [, it parses to an object or array or fails
    except ValueError:
        return None


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf path -> value. Nested maps and lists of maps are walked; JSON documents are expanded
    so a policy change shows as the statement that changed, not as one long string."""
    if isinstance(value, Mapping):
        if not value:
            return {path: {}} if path else {}
        out: dict[str, Any] = {}
        for k in sorted(value):
            out.update(flatten(value[k], f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list):
        if all(_is_scalar(v) for v in value):
            return {path: tuple(value)}
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    if isinstance(value, str):
        doc = json_document(value)
        if doc is not None and doc:
            return {f"{path}(json){p if p.startswith('[') else '.' + p}": v
                    for p, v in flatten(doc).items()}
    return {path: value}


def _is_scalar(value: Any) -> bool:
    return value is SECRET or value is UNKNOWN or isinstance(value, str | int | float | bool) \
        or value is None


def top_key(path: str) -> str:
    return re.split(r"[.\[(]", path, maxsplit=1)[0]


# --- changes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class InputChange:
    path: str
    before: Any
    after: Any
    replaces: bool


@dataclass
class Change:
    """What happens to one resource between two plans."""

    key: str
    type: str
    name: str
    action: Action
    inputs: list[InputChange] = field(default_factory=list)
    options: list[InputChange] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rolls: str | None = None
    """How the group's running instances get replaced, if they do."""
    launch_note: str | None = None
    """For a group whose launch settings change without replacing running instances."""

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"

    @property
    def new_version(self) -> bool:
        """An update that puts a launch template's settings into a new version: what the group
        launches from is replaced, though Pulumi updates the template resource in place."""
        return self.action == "update" and self.type == LAUNCH_TEMPLATE


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


MISSING = _Missing()
"""An input one side does not have."""


def _replaces(res: Resource, path: str) -> bool:
    forced = set(REPLACED_ON.get(res.type, frozenset()))
    # replaceOnChanges holds property paths such as "triggers[*]": compare their first segment.
    forced |= {top_key(p) for p in res.options.get("replaceOnChanges") or ()}
    return ALL in forced or top_key(path) in forced


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    out = []
    for path in sorted(set(before) | set(after)):
        b, a = before.get(path, MISSING), after.get(path, MISSING)
        if not _same(b, a):
            out.append((path, b, a))
    return out


def _same(b: Any, a: Any) -> bool:
    # The markers and MISSING compare by identity, so each equals only itself; 1 and 1.0 or
    # True differ, as they do in the program's inputs.
    return b is a or bool(type(b) is type(a) and b == a)


def diff(before: Sequence[Resource], after: Sequence[Resource]) -> list[Change]:
    """What `pulumi up` would do to go from ``before`` to ``after``, resource by resource.

    Secret and unknown values compare equal to themselves: the plan cannot see a secret change,
    nor an output computed during the update, unless something it depends on changes.
    """
    old = {r.key: r for r in before}
    new = {r.key: r for r in after}
    changes: dict[str, Change] = {}
    for res in dependency_order(after):  # what a resource reads from is decided before it
        if res.key not in old:
            changes[res.key] = Change(res.key, res.type, res.name, "create")
            continue
        prior = old[res.key]
        ignored = set(res.options.get("ignoreChanges") or ())
        inputs = [InputChange(p, b, a, _replaces(res, p))
                  for p, b, a in _changed(prior.flat(), res.flat())
                  if not _ignored(p, ignored)]
        options = [InputChange(p, b, a, False)
                   for p, b, a in _changed(flatten(dict(prior.options)),
                                           flatten(dict(res.options)))]
        change = Change(res.key, res.type, res.name, "same", inputs, options)
        if inputs:
            change.action = "replace" if any(c.replaces for c in inputs) else "update"
            forcing = sorted({top_key(c.path) for c in inputs if c.replaces})
            changed = ", ".join(sorted({top_key(c.path) for c in inputs}))
            if forcing:
                change.reasons.append(_replace_reason(res, forcing))
            elif res.type == LAUNCH_TEMPLATE:
                change.reasons.append(f"launch template versions are immutable: the change to "
                                      f"{changed} makes a new version")
            else:
                change.reasons.append(f"changes in place: {changed}")
        _propagate(res, change, changes)
        changes[res.key] = change
    for res in before:
        if res.key not in new:
            changes[res.key] = Change(res.key, res.type, res.name, "delete")
    # A group rolled by the rollout gate rolls when the gate's desired configuration changes,
    # even where the group ignores the change (a mixed policy's spot split, say).
    started = {d for r in after if r.type == ROLLOUT_START and r.key in changes
               for d in r.depends_on
               if any(top_key(c.path) in ("desired", "launch") for c in changes[r.key].inputs)}
    for res in after:
        _rolls(res, changes, res.key in started)
    gone = [r for r in before if r.key not in new]
    order = {r.key: i for i, r in enumerate(tree_order([*after, *gone]))}
    return sorted((c for c in changes.values() if c.action != "same" or c.options),
                  key=lambda c: order[c.key])


def _ignored(path: str, ignored: set[str]) -> bool:
    return top_key(path) in ignored or any(path == i or path.startswith((f"{i}.", f"{i}["))
                                           for i in ignored)


def _replace_reason(res: Resource, forcing: Sequence[str]) -> str:
    if ALL in REPLACED_ON.get(res.type, ()):
        return "immutable: every change replaces it"
    consequence = REPLACEMENT_CONSEQUENCE.get(res.type)
    return (f"{', '.join(forcing)} can only change by replacement"
            + (f"; {consequence}" if consequence else ""))


def _outputs_change(change: Change) -> bool:
    return change.action == "replace" or (
        change.action == "update" and change.type in OUTPUTS_CHANGE_ON_UPDATE)


def _propagate(res: Resource, change: Change, done: Mapping[str, Change]) -> None:
    """Mark ``res`` changed when a resource it reads from gets new outputs (a replaced resource,
    a re-run command, a new launch template version): `pulumi preview` shows those inputs as
    unknown, so the resource is updated, and replaced if it is immutable."""
    sources = [done[d] for d in res.depends_on if d in done and _outputs_change(done[d])]
    if not sources:
        return
    names = ", ".join(_why_outputs_change(s) for s in sources)
    if ALL in REPLACED_ON.get(res.type, ()):
        if change.action != "replace":
            change.action = "replace"
            change.reasons.append(_replace_reason(res, ()))
    elif change.action == "same":
        change.action = "update"
    change.reasons.append(f"reads {names}")


def _why_outputs_change(source: Change) -> str:
    if source.action == "replace":
        return f"{source.name}, which is replaced"
    if source.type == COMMAND:
        return f"the output of {source.name}, which runs again"
    return f"{source.name}, which gets a new version"


def roll_estimate(res: Resource) -> str | None:
    """How an instance refresh of this group would go (plan/rollout_estimate.py), if it has one."""
    flat = res.refresh_flat()
    if res.type != GROUP or not flat.get("instanceRefresh.strategy"):
        return None
    prefs = "instanceRefresh.preferences."
    desired = flat.get("desiredCapacity")
    if not isinstance(desired, int | float):
        return None
    checkpoints = (res.refresh or res.inputs.get("instanceRefresh", {})).get(
        "preferences", {}).get("checkpointPercentages") or ()
    found = estimate(
        desired=int(desired),
        min_pct=int(flat.get(f"{prefs}minHealthyPercentage", 90)),
        max_pct=int(flat.get(f"{prefs}maxHealthyPercentage", 100)),
        warmup=int(flat.get(f"{prefs}instanceWarmup") or flat.get("defaultInstanceWarmup") or 0),
        checkpoints=[int(p) for p in checkpoints],
        checkpoint_delay=int(flat.get(f"{prefs}checkpointDelay") or 0),
    )
    return found.text(int(desired))


def _rolls(res: Resource, changes: dict[str, Change], started: bool = False) -> None:
    """Whether the group's running instances get replaced, and how."""
    if res.type != GROUP or res.key not in changes:
        return
    change = changes[res.key]
    if change.action == "create":
        return
    if change.action == "replace":
        change.rolls = "the group is replaced: every instance is replaced with it"
        return
    launch_paths = ("launchTemplate", "launchConfiguration", "mixedInstancesPolicy")
    launch_sources = [changes[d] for d in res.depends_on
                      if d in changes and changes[d].type in (LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION)
                      and changes[d].action in ("update", "replace")]
    launch_changed = (any(top_key(c.path) in launch_paths for c in change.inputs)
                      or launch_sources or started)
    if not launch_changed:
        return
    flat = res.refresh_flat()
    if flat.get("instanceRefresh.strategy"):
        pct = flat.get("instanceRefresh.preferences.minHealthyPercentage")
        keep = f", keeping {pct}% healthy" if pct is not None else ""
        by_gate = ""
        if res.refresh is not None:
            by_gate = (" started by the rollout gate, rolled back by AWS if it fails"
                       if flat.get("instanceRefresh.preferences.autoRollback") else
                       " started by the rollout gate")
        change.rolls = (f"instance refresh ({flat['instanceRefresh.strategy']}{keep})"
                        f"{by_gate}: every running instance is replaced from the new launch "
                        f"settings; {roll_estimate(res)}")
    else:
        change.launch_note = ("no instance refresh: running instances keep the old launch "
                              "settings; only instances launched from now on use the new ones")
    if change.action == "same":
        change.action = "update"


def plaintext_secrets(items: Iterable[Resource], secrets: Iterable[str]) -> list[str]:
    """Inputs holding a known secret value in plain text (also inside base64 user data): these
    would be stored unencrypted in the state and shown by every preview."""
    needles = [s for s in secrets if s]
    found: list[str] = []
    for res in items:
        for path, value in res.flat().items():
            texts = [value] if isinstance(value, str) else \
                [v for v in value if isinstance(v, str)] if isinstance(value, tuple) else []
            texts += [d for t in list(texts) if (d := decoded_user_data(t)) is not None]
            if any(n in t for t in texts for n in needles):
                found.append(f"{res.label}: {path}")
    return found

