"""Roll a stack back: the KV pointer goes to an earlier release, then the stack's deploy event."""

from __future__ import annotations

import urllib.parse
from typing import Any

from contracts.release_layout import manifest_key
from deploy.artifacts import RELEASE_ID
from deploy.errors import UNCHANGED, DeployError
from deploy.pointer import PointerState, PointerStore, Release
from deploy.publish import announce
from deploy.s3 import describe
from deploy.target import Target


def rollback(target: Target, *, s3: Any, pointers: PointerStore,
             to: str | None = None) -> tuple[Release, str | None, str]:
    """Point the stack back at an earlier release; returns (release, previous URL, event id)."""
    state = pointers.read()
    chosen = choose_rollback(state, to)
    bucket, key = _split_s3(chosen.manifest)
    if not RELEASE_ID.fullmatch(chosen.release) or key != manifest_key(target.app, chosen.release):
        # Every node refuses any other URL at boot (release-pull): never point the fleet at it.
        raise DeployError(f"history entry {chosen.release!r} names the manifest "
                          f"{chosen.manifest!r}, not s3://<bucket>/"
                          f"{manifest_key(target.app, '<release>')} with a release id of letters, "
                          f"digits, . _ -: pick another with --to; {UNCHANGED}")
    # Without a configured bucket, the one the current pointer names is the stack's: `push`
    # wrote it there, so no AWS account lookup is needed to know it.
    ours = target.bucket or (_split_s3(state.current)[0] if state.current else None)
    if ours and bucket != ours:
        raise DeployError(f"history entry {chosen.release} names bucket {bucket!r}, but stack "
                          f"'{target.stack}' deploys from {ours!r}; {UNCHANGED}")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as e:  # botocore raises ClientError and BotoCoreError subclasses
        raise DeployError(f"cannot roll back to {chosen.release}: its manifest {chosen.manifest} "
                          f"is not readable ({describe(e)}); {UNCHANGED}") from e
    pointers.point_to(chosen.manifest, state)
    return chosen, state.current, announce(pointers, chosen.manifest)


def choose_rollback(state: PointerState, to: str | None) -> Release:
    """The release a rollback goes to: ``to`` if given, else the one pushed before the current."""
    if state.current is None:
        raise DeployError("nothing is deployed yet (the pointer is unset): there is nothing "
                          "to roll back")
    known = ", ".join(r.release for r in state.history) or "none"
    if to is not None:
        for entry in state.history:
            if entry.release == to:
                if entry.manifest == state.current:
                    raise DeployError(f"{to} is already the current release; {UNCHANGED}")
                return entry
        raise DeployError(f"--to {to!r} is not in the deploy history (known: {known}); "
                          f"{UNCHANGED}")
    for i, entry in enumerate(state.history):
        if entry.manifest == state.current:
            if i + 1 < len(state.history):
                return state.history[i + 1]
            raise DeployError(f"{entry.release} is the oldest release in the history; there "
                              f"is nothing before it; {UNCHANGED}")
    raise DeployError(f"the pointer names {state.current}, which is not in the deploy history "
                      f"(known: {known}); pick one with --to; {UNCHANGED}")


def _split_s3(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DeployError(f"{url!r} is not an s3:// URL")
    return parsed.netloc, parsed.path.lstrip("/")
