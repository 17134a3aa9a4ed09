"""`python -m deploy`: publish a release to a stack's instances, or roll it back.

push:     release dir -> tar.gz -> S3 (verified) -> stretcher manifest -> KV pointer -> event
rollback: KV pointer -> the release before it (or --to ID) -> the stack's deploy event
status:   what the pointer names, the deploy history, every node's release and health
push --canary N|P%: the release goes to N healthy nodes first; the pointer moves only once they
          run it healthy for --bake seconds (docs/deploys-canary.md)
push and rollback then wait until every node runs the release healthy (unless --no-wait).
The nodes waited on (and the canary candidates) are exactly the instances the stack's Auto
Scaling groups hold InService (autoscaling:DescribeAutoScalingGroups, docs/deploys.md).
notify:   fire the stack's deploy event again for what the pointer names

Nothing here touches the fleet or the image: instances pull the release themselves, at boot
(release-pull) and on the event (deploy-event-handler). Any failure before the pointer write
leaves the pointer, and so every instance, on the release it had.

The pointer moves only in the last step, and a canary in flight stays recorded: `status`
explains it, `push --resume` finishes it, `push --abort` reverts it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from components.consul.client import ConsulError
from contracts.consul_agent import node_name_prefix
from contracts.escaping import terminal_text
from contracts.exit_code_table import help_lines
from deploy import arguments
from deploy.artifacts import ReleaseError, check_links
from deploy.canary import CanaryError, Clock, check_canary_fits
from deploy.canary_lock import CanaryLock, fire_to
from deploy.errors import UNCHANGED, DeployError, EventError
from deploy.fleet_group import GroupError, group_lookup
from deploy.fleet_status import FleetError, FleetView
from deploy.pointer import PointerError, PointerStore, connect
from deploy.publish import announce, planned_release, push, upload
from deploy.rollback import rollback
from deploy.rollout import (
    CanaryFailed,
    Ports,
    RolloutUnhealthy,
    finish_canary,
    fleet_lines,
    follow,
    refuse_if_canary,
    resume_or_abort,
    start_canary,
    wait_fleet,
)
from deploy.s3 import UploadError
from deploy.target import Target, resolve_target, s3_client, with_default_bucket

# Defined once: docs/exit-codes.md is generated from it (python -m contracts.exit_code_table).
EXIT_CODES = {
    0: "done",
    1: "refused or failed (the pointer is unchanged unless the line says so)",
    2: "bad usage",
    3: "pointer moved, event not fired: run `notify`",
    4: "the canary failed: pointer unchanged, canary nodes sent back",
    5: "the pointer moved, but the fleet is not healthy on the release",
    130: "interrupted (`status` shows the pointer, a canary stays recorded)",
}
EXIT_FAILED, EXIT_EVENT, EXIT_CANARY, EXIT_UNHEALTHY, EXIT_INTERRUPTED = 1, 3, 4, 5, 130


def parser() -> argparse.ArgumentParser:
    return arguments.build(f"{__doc__ or ''}\nExit codes (docs/exit-codes.md):\n"
                           f"{help_lines(EXIT_CODES)}\n")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        target = resolve_target(args, os.environ if env is None else env)
        if not target.bucket and args.command == "push":
            # Only push must name a bucket before the pointer does: status and notify read
            # Consul alone, and rollback takes the bucket from the manifest URL it points at.
            target = with_default_bucket(target)
        client = connect(target.consul_addr, target.consul_token, target.consul_ca)
        pointers = PointerStore(client, target.kv_prefix, target.app, target.stack)
        group = None
        if _waits_for_fleet(args):
            group = group_lookup(target.app, target.stack, target.region,
                                 (os.environ if env is None else env).get(
                                     "AWS_ENDPOINT_URL_AUTOSCALING") or target.s3_endpoint)
        view = FleetView(client, target.kv_prefix, target.app, target.stack, group,
                         lambda line: print(terminal_text(f"deploy: {line}"), file=err))
        ports = Ports(pointers, CanaryLock(client, target.kv_prefix, target.app), view.nodes,
                      lambda manifest, nodes: fire_to(client, pointers.event, manifest, nodes),
                      Clock(time.monotonic, time.sleep), err)
        if args.command == "push":
            _push_command(args, target, pointers, ports, out)
        elif args.command == "rollback":
            _look_at_group(args, ports)
            refuse_if_canary(ports.lock)
            chosen, previous, event_id = rollback(target, s3=s3_client(target),
                                                  pointers=pointers, to=args.to)
            print(f"rolled back {pointers.current_key} to {chosen.release} "
                  f"({chosen.manifest}); was {previous}", file=out)
            print(f"event:    {event_id}", file=out)
            if not args.no_wait:
                wait_fleet(ports, chosen.release, args.timeout)
                print(f"fleet:    every node runs {chosen.release}, healthy", file=out)
        elif args.command == "status":
            _print_status(pointers, out)
            for line in fleet_lines(ports, pointers.read(), target.stack):
                print(terminal_text(line), file=out)
            if args.wait:
                follow(ports, args.wait, args.timeout, out)
        else:
            current = pointers.read().current
            if current is None:
                raise DeployError(f"{pointers.current_key} is unset: nothing to announce")
            print(f"event:    {announce(pointers, current)} ({current})", file=out)
    except KeyboardInterrupt:
        print("deploy: interrupted; any canary in flight stays recorded: `python -m deploy "
              "status` explains it, `push --resume` finishes it, `push --abort` reverts it",
              file=err)
        return EXIT_INTERRUPTED
    except CanaryFailed as e:
        print(terminal_text(f"deploy: error: {e}"), file=err)
        return EXIT_CANARY
    except RolloutUnhealthy as e:
        print(terminal_text(f"deploy: error: {e}"), file=err)
        return EXIT_UNHEALTHY
    except EventError as e:
        print(terminal_text(f"deploy: error: {e}"), file=err)
        return EXIT_EVENT
    # ConsulError last: an answer no step expected (a proxy's page) is still one line.
    except (DeployError, ReleaseError, UploadError, PointerError, CanaryError, FleetError,
            GroupError, ConsulError) as e:
        unchanged = "" if UNCHANGED in str(e) else f"; {UNCHANGED}"
        print(terminal_text(f"deploy: error: {e}{unchanged}"), file=err)
        return EXIT_FAILED
    return 0


def _look_at_group(args: argparse.Namespace, ports: Ports) -> None:
    """Ask the group (through the fleet view) once before anything is written: AWS refusing
    the lookup then leaves the pointer as it was (exit 1), not half a rollout (exit 5). A
    canary's choice of nodes asks it first anyway."""
    if _waits_for_fleet(args):
        ports.fleet()


def _waits_for_fleet(args: argparse.Namespace) -> bool:
    """Whether the command looks for the group's InService instances: every wait, and a
    canary's choice of nodes. `status` alone and `notify` read Consul only, never AWS."""
    if args.command == "push":
        return not args.no_wait or bool(args.canary or args.resume or args.abort)
    if args.command == "rollback":
        return not args.no_wait
    return args.command == "status" and bool(args.wait)


def _print_status(pointers: PointerStore, out: TextIO) -> None:
    # Every value comes from KV, which anyone with write access there may fill: no escape
    # sequence of theirs reaches the operator's terminal.
    state = pointers.read()
    print(terminal_text(f"{pointers.current_key}: {state.current or 'unset'}"), file=out)
    print(terminal_text(f"{pointers.previous_key}: {state.previous or 'unset'}"), file=out)
    for entry in state.history:
        mark = "*" if entry.manifest == state.current else " "
        print(terminal_text(f" {mark} {entry.release}  {entry.at}  {entry.by}  {entry.manifest}"),
              file=out)



def _push_command(args: argparse.Namespace, target: Target, pointers: PointerStore,
                  ports: Ports, out: TextIO) -> None:
    s3 = s3_client(target)
    if args.release_dir is not None and args.release_dir.is_dir():
        # Refused before any call: a link out of the release never reaches S3 or Consul.
        check_links(args.release_dir)
    if args.resume or args.abort:
        _look_at_group(args, ports)
        resumed = resume_or_abort(ports, abort=args.abort, timeout=args.timeout, out=out)
        if resumed is None:
            return
        release = resumed
    elif args.release_dir is None:
        raise DeployError("push needs a release directory (or --resume / --abort)")
    elif args.canary:
        planned = planned_release(target, args.release_id)
        check_canary_fits(args.canary, planned.manifest, target.fleet_max,
                          node_name_prefix(target.app, target.stack), pointers.event)
        record, index = start_canary(ports, planned, args.canary, args.bake, lambda: upload(
            target, args.release_dir, s3=s3, pointers=pointers, err=ports.err,
            planned=planned)[2])
        release = record.release
        print(f"release:  {release} ({record.manifest})", file=out)
        print(f"event:    {finish_canary(ports, record, index, args.timeout)}", file=out)
    else:
        _look_at_group(args, ports)
        refuse_if_canary(ports.lock)
        pushed = push(target, args.release_dir, s3=s3, pointers=pointers,
                      release_id=args.release_id, err=ports.err)
        release = pushed.release.release
        print(f"release:  {release} ({pushed.size} bytes, sha256 {pushed.sha256})", file=out)
        print(f"manifest: {pushed.release.manifest}", file=out)
        print(f"pointer:  {pointers.current_key} (was {pushed.previous or 'unset'})", file=out)
        print(f"event:    {pushed.event_id}", file=out)
    if not args.no_wait:
        wait_fleet(ports, release, args.timeout)
        print(f"fleet:    every node runs {release}, healthy", file=out)
