"""The canary state machine and the health wait every push, rollback and `status --wait` share.

Pure over its ports: where the nodes stand, firing the event, the lock record and the pointer
are callables handed in, and so are the clock and sleep, so the tests drive it without waiting.

    lock (CAS index 0) -> fire candidate to the canary nodes -> wait: they report it and pass
    their check for `bake` seconds -> move the pointer (CAS) -> fire to all -> unlock
    on failure or timeout: fire the current release to the canary nodes -> unlock -> CanaryFailed
A Ctrl-C leaves the lock record: `status` explains it, `push --resume` finishes, `--abort` reverts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from contracts import json_text
from contracts.consul_event import EVENT_SIZE_LIMIT, encoded_event_size, worst_canary_filter
from deploy.fleet_status import IGNORED, NodeStatus
from deploy.progress import RolloutProgress

# With no bake time, a node on the release whose check stays critical this long has failed.
DEFAULT_CRITICAL_GRACE = 10.0


class CanaryError(Exception):
    """The canary cannot start or go on; nothing was changed unless the message says so."""


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float]
    sleep: Callable[[float], None]


@dataclass(frozen=True)
class CanaryRecord:
    """The in-flight canary as the `canary` KV key holds it: enough to resume or abort it."""

    release: str
    manifest: str
    current: str | None
    """Manifest URL the pointer names (what the canary nodes go back to)."""
    current_release: str | None
    nodes: tuple[str, ...]
    bake: float
    at: str
    by: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> CanaryRecord:
        data = json_text.loads(text)
        data["nodes"] = tuple(data["nodes"])
        return cls(**data)


@dataclass
class WaitResult:
    ok: bool
    reason: str = ""
    failing: list[NodeStatus] = field(default_factory=list)


def canary_count(spec: str, healthy: int) -> int:
    """How many nodes `--canary N` or `--canary P%` means, given the healthy nodes."""
    try:
        if spec.endswith("%"):
            percent = float(spec[:-1])
            if not 0 < percent <= 100:
                raise ValueError
            count = max(1, math.ceil(healthy * percent / 100))
        else:
            count = int(spec)
            if count < 1:
                raise ValueError
    except ValueError:
        raise CanaryError(f"--canary {spec!r}: must be a whole number of nodes (>= 1) or a "
                          "percentage like 25%") from None
    if healthy == 0:
        raise CanaryError("--canary: no node of the service is healthy, so none can take the "
                          "canary; check `python -m deploy status`")
    if count >= healthy:
        # A canary of every node proves nothing before all of them run it: say so, not do it.
        raise CanaryError(f"--canary {spec}: that is {count} of the {healthy} healthy node(s), "
                          "the whole fleet; a canary must leave at least one node on the current "
                          "release (push without --canary to deploy to every node at once)")
    return count


def check_canary_fits(spec: str, manifest: str, fleet_max: int, node_prefix: str,
                      event: str) -> None:
    """CanaryError unless the canary event fits for the largest fleet the settings allow.

    Checked before anything is written: the node filter grows with every canary node, and the
    encoded event (filter, manifest URL, framing) must stay within Consul's 512 bytes."""
    count = canary_count(spec, fleet_max)

    def size(n: int) -> int:
        return encoded_event_size(event, manifest.encode(),
                                  worst_canary_filter(node_prefix, n))

    if size(count) <= EVENT_SIZE_LIMIT:
        return
    most = max((n for n in range(1, count) if size(n) <= EVENT_SIZE_LIMIT), default=0)
    fix = (f"use --canary {most} or fewer nodes" if most
           else "shorten the manifest URL (bucket name, --release-id)")
    raise CanaryError(f"--canary {spec}: up to {count} of at most {fleet_max} nodes "
                      f"(webtier:fleet.maxSize) makes the encoded '{event}' event "
                      f"{size(count)} bytes with its node filter; Consul allows "
                      f"{EVENT_SIZE_LIMIT}: {fix}")


def choose_canaries(nodes: Sequence[NodeStatus], spec: str) -> tuple[str, ...]:
    """The first N healthy nodes by name: deterministic, so a rerun picks the same ones."""
    healthy = [n.node for n in nodes if n.healthy]
    return tuple(sorted(healthy)[:canary_count(spec, len(healthy))])


_NO_NODE = {False: " (no node is registered)", True: " (no node is healthy)"}


def wait_for_release(release: str, *, fleet: Callable[[], list[NodeStatus]], clock: Clock,
                     timeout: float, bake: float = 0.0, nodes: Sequence[str] | None = None,
                     progress: RolloutProgress | None = None, poll: float = 0.5,
                     healthy_only: bool = False) -> WaitResult:
    """Wait until the nodes run ``release`` with a passing check for ``bake`` seconds.

    ``nodes`` None: every node registered in the service, or with the group every InService
    instance (``healthy_only``: every healthy one, what `status --wait` follows). A node on the
    release whose check stays non-passing for the bake time (or DEFAULT_CRITICAL_GRACE without
    one) fails the wait at once.
    """
    grace = bake if bake > 0 else DEFAULT_CRITICAL_GRACE
    deadline = clock.now() + timeout
    good: dict[str, float] = {}
    bad: dict[str, float] = {}
    while True:
        now = clock.now()
        seen = {n.node: n for n in fleet()}
        if nodes is None:
            names = [n for n, s in seen.items() if s.health not in IGNORED
                     and (s.healthy or not healthy_only)]
        else:
            names = list(nodes)
        gone = [n for n in names if n not in seen or seen[n].health in IGNORED]
        if gone and nodes is not None:
            return WaitResult(False, f"left the service: {', '.join(gone)}",
                              [seen[n] for n in gone if n in seen])
        for name in names:
            s = seen[name]
            on = s.release == release
            if on and s.healthy:
                good.setdefault(name, now)
                bad.pop(name, None)
            elif on:
                bad.setdefault(name, now)
                good.pop(name, None)
            else:
                good.pop(name, None)
                bad.pop(name, None)
        failed = [seen[n] for n in names if n in bad and now - bad[n] >= grace]
        if failed:
            return WaitResult(False, f"health check not passing for {grace:.0f}s on {release}",
                              failed)
        done = [n for n in names if n in good and now - good[n] >= bake]
        if progress is not None:
            baking = [bake - (now - good[n]) for n in names if n in good and n not in done]
            progress.update(len(done), len(names), f"on {release}, healthy"
                            f"{f' for {bake:.0f}s' if bake else ''}",
                            bake_left=max(baking) if baking else None)
        if names and len(done) == len(names):
            return WaitResult(True)
        if not names and nodes is None and not healthy_only:
            # A fleet scaled to zero: new instances boot the pointer's release anyway.
            return WaitResult(True, "no node is registered in the service or InService in "
                              "its group")
        if now >= deadline:
            late = [seen[n] for n in names if n not in done]
            return WaitResult(False, f"timed out after {timeout:.0f}s waiting for {release}"
                              f"{'' if names else _NO_NODE[healthy_only]}", late)
        clock.sleep(poll)


def describe_failure(result: WaitResult) -> str:
    """`<reason>: node (health, runs R): last check output; ...` for the error message."""
    parts = [f"{n.node} ({n.health}, runs {n.release or 'nothing reported'}): "
             f"{n.output or 'no check output'}" for n in result.failing]
    return f"{result.reason}: {'; '.join(parts)}" if parts else result.reason


def explain(record: CanaryRecord, stack: str, pointer_release: str | None = None,
            pointer_moved: bool = False) -> list[str]:
    """What `status` says about a canary left in flight (a Ctrl-C, a lost connection).

    ``pointer_moved``: the pointer no longer names what it did when the canary started (someone
    pushed or rolled back since), so it names ``pointer_release``, and that is where --abort
    sends the canary nodes; --resume would refuse to promote."""
    if not pointer_moved:
        pointer_release = record.current_release
    now = pointer_release or "nothing"
    head = (f"canary in flight: {record.release} on {', '.join(record.nodes)} since {record.at} "
            f"(by {record.by}); ")
    if pointer_moved:
        return [head + f"the pointer has moved since from {record.current_release or 'nothing'} "
                f"to {now}",
                f"  abandon it (the canary nodes go to {now}): "
                f"python -m deploy push --stack {stack} --abort"]
    return [
        head + f"the pointer still names {now}",
        f"  finish it: python -m deploy push --stack {stack} --resume",
        f"  abandon it (the canary nodes go back to {now}): "
        f"python -m deploy push --stack {stack} --abort",
    ]
