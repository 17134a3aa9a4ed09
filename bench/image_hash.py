"""Benchmark: the image content hash and build.py's no-change path, against a bare sha256.

    venv/bin/python bench/image_hash.py

Each measurement is a ratio to the cheapest way to hash the same bytes: read the same files (list
given) into one sha256. Goal: <= 2x. Times are the best of several rounds (warm page cache).
The no-change path's one EC2 DescribeImages round trip is answered by a stand-in here: it is
network time, not the script's, and would swamp any local cost.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.image.inputs import (  # noqa: E402 (needs the repo root on sys.path)
    LayerTarget,
    content_hash,
    hash_paths,
    layer_files,
    tree_paths,
)

GOAL = 2.0
STOCK_AMI = "ami-0d52744d6551d851e"
BASE = LayerTarget("base", "ap-northeast-1", STOCK_AMI)
APP = LayerTarget("app", "ap-northeast-1", "ami-0123456789abcdef0")


def best(fn: Callable[[], object], rounds: int = 7, loops: int = 50) -> float:
    """Seconds per call: the best round's mean."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - start) / loops)
    return min(times)


def bare_sha256(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


class HasTheAmi:
    """EC2 as the no-change path finds it: an AMI with this content hash exists."""

    def describe_images(self, **_: Any) -> dict[str, Any]:
        return {"Images": [{"ImageId": "ami-0aaaaaaaaaaaaaaaa", "CreationDate": "2026-01-01"}]}


def load_build() -> Any:
    spec = importlib.util.spec_from_file_location("webtier_image_build", ROOT / "image/build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def report(name: str, measured: float, baseline: float, size: int) -> bool:
    ratio = measured / baseline
    verdict = "ok" if ratio <= GOAL else "OVER GOAL"
    print(f"{name:<44} {measured * 1e3:8.3f} ms  bare sha256 {baseline * 1e3:8.3f} ms "
          f"({size / 1024:6.1f} KiB)  ratio {ratio:5.2f}x  goal <= {GOAL:.0f}x  {verdict}")
    return ratio <= GOAL


def main() -> int:
    ok = True

    tree = [ROOT / rel for rel in tree_paths("image")]
    tree_bytes = sum(p.stat().st_size for p in tree)

    def whole_tree() -> str:
        return hash_paths(tree_paths("image"), ROOT, {})

    ok &= report("content hash, whole image/ tree (walk+hash)", best(whole_tree),
                 best(lambda: bare_sha256(tree)), tree_bytes)

    layers = layer_files("base") + layer_files("app")
    ok &= report("content hash, base + app layers (preview)",
                 best(lambda: (content_hash(BASE), content_hash(APP))),
                 best(lambda: bare_sha256(layers)), sum(p.stat().st_size for p in layers))

    build = load_build()
    # Configured through the environment, as the GoldenImage component runs it.
    os.environ.update(WEBTIER_IMAGE_LAYER="app", WEBTIER_IMAGE_REGION=APP.region,
                      WEBTIER_IMAGE_SOURCE_AMI=APP.source_ami,
                      WEBTIER_PACKER="/nonexistent/packer")
    ec2 = HasTheAmi()

    def no_change() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert build.main([], ec2=ec2) == 0

    app_files = layer_files("app")
    ok &= report("build.py no-change path, app layer", best(no_change),
                 best(lambda: bare_sha256(app_files)), sum(p.stat().st_size for p in app_files))
    print("(no-change path: EC2 DescribeImages answered by a stand-in; network time excluded)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
