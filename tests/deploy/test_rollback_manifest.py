"""`rollback --to` points the fleet only at a manifest URL every node would accept: the one the
layout names for the entry's release (release-pull refuses any other at boot)."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.errors import DeployError
from deploy.pointer import PointerState, Release
from deploy.rollback import rollback
from deploy.target import Target

CURRENT = "s3://webapp-releases/releases/webapp/r2/manifest.yml"
TARGET = Target("staging", "webapp", "webapp-releases", "webapp/staging", 5, "ap-northeast-1",
                None, "127.0.0.1:8500", None, None)


class Pointers:
    def __init__(self, history: tuple[Release, ...]) -> None:
        self.state = PointerState(CURRENT, 5, None, history, 6)
        self.moved: list[str] = []

    def read(self) -> PointerState:
        return self.state

    def point_to(self, manifest: str, state: PointerState) -> None:
        self.moved.append(manifest)


class S3:
    def __init__(self) -> None:
        self.heads: list[str] = []

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.heads.append(Key)
        return {}


@pytest.mark.parametrize(("release", "manifest"), [
    ("r1", "s3://webapp-releases/releases/webapp/../other/r1/manifest.yml"),
    ("r1", "s3://webapp-releases/releases/webapp/r1/../r9/manifest.yml"),
    ("r1", "s3://webapp-releases/releases/webapp/r9/manifest.yml"),
    ("r1", "s3://webapp-releases/releases/other-app/r1/manifest.yml"),
    ("../r1", "s3://webapp-releases/releases/webapp/../r1/manifest.yml"),
    ("r1\n", "s3://webapp-releases/releases/webapp/r1\n/manifest.yml"),
])
def test_rollback_refuses_a_history_entry_whose_manifest_is_not_the_layouts(
        release: str, manifest: str) -> None:
    pointers = Pointers((Release("r2", CURRENT, "t", "b"), Release(release, manifest, "t", "b")))
    s3 = S3()
    with pytest.raises(DeployError, match="pick another with --to; the deploy pointer was not"):
        rollback(TARGET, s3=s3, pointers=pointers, to=release)  # type: ignore[arg-type]
    assert (pointers.moved, s3.heads) == ([], [])


def test_rollback_takes_the_layouts_manifest() -> None:
    good = "s3://webapp-releases/releases/webapp/r1/manifest.yml"
    pointers = Pointers((Release("r2", CURRENT, "t", "b"), Release("r1", good, "t", "b")))
    announced: list[str] = []
    pointers.announce = lambda m: announced.append(m) or "ev"  # type: ignore[attr-defined]
    chosen, previous, _ = rollback(TARGET, s3=S3(), pointers=pointers, to="r1")  # type: ignore[arg-type]
    assert (chosen.manifest, previous, pointers.moved) == (good, CURRENT, [good])
