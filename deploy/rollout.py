"""The push, rollback and canary flows after the upload: fire, wait for health, move the pointer.

Every Consul edge comes in through `Ports`, so the flows are tested against the Consul double
and in-process with a fake clock alike. Exit codes the CLI maps these to: CanaryFailed 4 (pointer
unchanged, canary nodes sent back), RolloutUnhealthy 5 (pointer moved, nodes not healthy on it).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from deploy.canary import (
    CanaryError,
    CanaryRecord,
    Clock,
    choose_canaries,
    describe_failure,
    explain,
    wait_for_release,
)
from deploy.canary_lock import CanaryLock
from deploy.fleet_status import FleetError, NodeStatus, render_table
from deploy.pointer import PointerState, PointerStore, Release
from deploy.progress import RolloutProgress

# How long canary nodes get to come back to the current release after a failed canary.
REVERT_TIMEOUT = 120.0


class CanaryFailed(CanaryError):
    """The canary nodes failed or ran out of time; they were sent back, the pointer stayed."""


class RolloutUnhealthy(Exception):
    """The pointer moved, but not every node came up healthy on the release in time."""


@dataclass(frozen=True)
class Ports:
    pointers: PointerStore
    lock: CanaryLock
    fleet: Callable[[], list[NodeStatus]]
    fire_to: Callable[[str, Sequence[str]], str]
    clock: Clock
    err: TextIO
    poll: float = 0.5


def release_of(state: PointerState) -> str | None:
    """The release id the pointer names: from the history, else from the manifest URL."""
    for entry in state.history:
        if entry.manifest == state.current:
            return entry.release
    if state.current is None:
        return None
    parts = urllib.parse.urlsplit(state.current).path.strip("/").split("/")
    return parts[-2] if len(parts) >= 2 else state.current


def refuse_if_canary(lock: CanaryLock) -> None:
    """A push or rollback must not move the pointer under an in-flight canary."""
    record, _ = lock.read()
    if record is not None:
        raise CanaryError(f"a canary of {record.release} is in flight on "
                          f"{', '.join(record.nodes)} (by {record.by} since {record.at}); "
                          "finish it with `push --resume` or clear it with `push --abort`")


def start_canary(ports: Ports, release: Release, spec: str, bake: float,
                 upload: Callable[[], PointerState]) -> tuple[CanaryRecord, int]:
    """Pick the canary nodes, take the lock, upload; the lock goes if the upload fails."""
    state = ports.pointers.read()
    if state.current is None:
        raise CanaryError("--canary needs a current release for the canary nodes to return to; "
                          "nothing is deployed yet: push once without --canary")
    nodes = choose_canaries(ports.fleet(), spec)
    record = CanaryRecord(release.release, release.manifest, state.current, release_of(state),
                          nodes, bake, release.at, release.by)
    index = ports.lock.take(record)
    try:
        upload()
    except BaseException:
        ports.lock.release(index)
        raise
    return record, index


def finish_canary(ports: Ports, record: CanaryRecord, index: int, timeout: float) -> str:
    """Fire to the canary nodes, wait, then promote (returns the fleet event id) or revert."""
    print(f"canary:   {record.release} -> {', '.join(record.nodes)} (event "
          f"{ports.fire_to(record.manifest, record.nodes)})", file=ports.err)
    progress = RolloutProgress(f"canary {record.release}", ports.err, now=ports.clock.now,
                               timeout=timeout)
    result = wait_for_release(record.release, fleet=ports.fleet, clock=ports.clock,
                              timeout=timeout, bake=record.bake, nodes=record.nodes,
                              progress=progress, poll=ports.poll)
    progress.finish()
    if not result.ok:
        back = revert(ports, record, index, timeout)
        raise CanaryFailed(f"canary of {record.release} failed: {describe_failure(result)}. "
                           f"{back}; the deploy pointer was not changed")
    state = ports.pointers.read()
    if state.current != record.current:
        raise CanaryError(f"the pointer moved to {state.current} during the canary (it named "
                          f"{record.current}); not promoting {record.release}. The canary "
                          "record stays: `push --abort` clears it")
    ports.pointers.publish(Release(record.release, record.manifest, record.at, record.by), state)
    event = ports.pointers.announce(record.manifest)
    ports.lock.release(index)
    return event


def revert(ports: Ports, record: CanaryRecord, index: int, timeout: float) -> str:
    """Send the canary nodes back to the pointer's release and drop the lock; says how it went.

    The pointer as it is now, not as the record saw it: if someone pushed or rolled back since
    the canary started, the rest of the fleet runs that, and so must the canary nodes."""
    state = ports.pointers.read()
    current, current_release = state.current, release_of(state)
    if current is None or current_release is None:
        ports.lock.release(index)
        return "there is no current release to send the canary nodes back to"
    ports.fire_to(current, record.nodes)
    progress = RolloutProgress(f"revert {current_release}", ports.err,
                               now=ports.clock.now, timeout=min(timeout, REVERT_TIMEOUT))
    result = wait_for_release(current_release, fleet=ports.fleet, clock=ports.clock,
                              timeout=min(timeout, REVERT_TIMEOUT), nodes=record.nodes,
                              progress=progress, poll=ports.poll)
    progress.finish()
    ports.lock.release(index)
    if result.ok:
        return f"{', '.join(record.nodes)} went back to {current_release}"
    return (f"{', '.join(record.nodes)} were sent back to {current_release} but did not "
            f"all report it healthy ({describe_failure(result)})")


def wait_fleet(ports: Ports, release: str, timeout: float, bake: float = 0.0) -> None:
    """After the pointer moved: every registered node on ``release`` and healthy, or raise."""
    progress = RolloutProgress(f"rollout {release}", ports.err, now=ports.clock.now,
                               timeout=timeout)
    try:
        result = wait_for_release(release, fleet=ports.fleet, clock=ports.clock,
                                  timeout=timeout, bake=bake, progress=progress, poll=ports.poll)
    except FleetError as e:
        raise RolloutUnhealthy(f"the pointer names {release}, but the rollout could not be "
                               f"followed: {e}; see `python -m deploy status`") from e
    finally:
        progress.finish()
    if not result.ok:
        raise RolloutUnhealthy(f"the pointer names {release}, but the fleet is not healthy on "
                               f"it: {describe_failure(result)}. Roll back with `python -m "
                               "deploy rollback`")
    if result.reason:
        # Zero nodes is never "every node runs it": nothing was seen to run the release (a fleet
        # scaled to zero, or nodes that never registered, e.g. refused by ACLs).
        raise RolloutUnhealthy(f"the pointer names {release}, but no node of this stack is "
                               f"in service ({result.reason}), so none was seen "
                               "running it; new instances boot it. Check `python -m deploy "
                               "status` and the agents' logs for `blocked by ACLs`")


def resume_or_abort(ports: Ports, *, abort: bool, timeout: float, out: TextIO) -> str | None:
    """`push --resume` (returns the release promoted) or `push --abort` (returns None)."""
    record, index = ports.lock.read()
    if record is None:
        raise CanaryError("no canary is in flight: nothing to resume or abort")
    if abort:
        print(f"aborted:  {revert(ports, record, index, timeout)}", file=out)
        return None
    print(f"event:    {finish_canary(ports, record, index, timeout)}", file=out)
    return record.release


def fleet_lines(ports: Ports, state: PointerState, stack: str) -> list[str]:
    """The node table of `status`, then what a canary left in flight means."""
    record, _ = ports.lock.read()
    moved = record is not None and record.current != state.current
    return [*render_table(ports.fleet(), release_of(state)),
            *(explain(record, stack, release_of(state), moved) if record else [])]


def follow(ports: Ports, release: str, timeout: float, out: TextIO) -> None:
    """`status --wait`: until every healthy node runs ``release``, with a progress bar."""
    progress = RolloutProgress(f"rollout {release}", ports.err, now=ports.clock.now,
                               timeout=timeout)
    result = wait_for_release(release, fleet=ports.fleet, clock=ports.clock, timeout=timeout,
                              healthy_only=True, progress=progress, poll=ports.poll)
    progress.finish()
    if not result.ok:
        raise RolloutUnhealthy(describe_failure(result))
    print(f"every healthy node runs {release}", file=out)
