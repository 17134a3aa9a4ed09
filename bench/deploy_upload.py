"""Benchmark: a whole `deploy push` of a 50 MiB release against a local moto S3 server,
as a ratio to a bare boto3 `upload_file` of the same archive bytes to the same server.

The push includes building the archive, hashing it, the multipart upload, reading back S3's
checksum, the manifest, the KV transaction and the event (against the Consul HTTP double). The
release is incompressible (random bytes), so the archive is as large as the release and both
sides move the same 50 MiB; a compressible release would make the push look better than it is.

    venv/bin/python bench/deploy_upload.py [--runs 9] [--mib 50]

Goal: ratio <= 1.2. Runs alternate between the two so machine noise hits both alike; the ratio
reported is the median of the per-pair ratios. Exits 0 whether or not the goal is met (it is not
a test).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from deploy.artifacts import build_archive  # noqa: E402
from deploy.pointer import PointerStore, connect  # noqa: E402
from deploy.publish import push as publish  # noqa: E402
from deploy.target import Target, s3_client  # noqa: E402
from tests.consul_double import ConsulDouble  # noqa: E402
from tests.moto_server import running_moto  # noqa: E402

GOAL = 1.2


def make_release(path: Path, mib: int) -> None:
    path.mkdir()
    for i in range(mib):
        (path / f"asset-{i:03d}.bin").write_bytes(os.urandom(1024 * 1024))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--mib", type=int, default=50)
    opts = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    with running_moto() as endpoint, \
            tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp, \
            ConsulDouble() as consul:
        release = Path(tmp, "release")
        make_release(release, opts.mib)
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
        target = Target(stack="staging", app="webapp", bucket=bucket,
                        kv_prefix="webapp/staging", keep=5, region="us-east-1",
                        s3_endpoint=endpoint, consul_addr=consul.address,
                        consul_token=None, consul_ca=None)
        pointers = PointerStore(connect(consul.address, None), target.kv_prefix, "webapp",
                                target.stack)
        # The push uses the client the command builds; the baseline a default one.
        deploy_s3 = s3_client(target)
        # The bytes the push uploads, for the baseline to upload too.
        archive = Path(tmp, "same-bytes.tar.gz")
        with archive.open("wb") as f:
            size = build_archive(release, part_size=8 * 1024 * 1024,
                                 on_part=lambda _part, data: f.write(data)).size

        def empty_bucket() -> None:
            # moto keeps every object in memory; a growing store slows later runs.
            listed = s3.list_object_versions(Bucket=bucket)
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})

        def push() -> float:
            start = time.perf_counter()
            publish(target, release, s3=deploy_s3, pointers=pointers, err=io.StringIO())
            elapsed = time.perf_counter() - start
            empty_bucket()
            return elapsed

        def bare() -> float:
            start = time.perf_counter()
            s3.upload_file(str(archive), bucket, f"bare/{uuid.uuid4().hex}")
            elapsed = time.perf_counter() - start
            empty_bucket()
            return elapsed

        push(), bare()  # warm up: moto's first large upload pays one-time costs
        pushes, bares = [], []
        for _ in range(opts.runs):
            pushes.append(push())
            bares.append(bare())

    p, b = statistics.median(pushes), statistics.median(bares)
    # Each push is paired with the bare upload right after it, so load from other processes
    # on the machine hits both halves of a pair alike; the headline is the median pair ratio.
    ratio = statistics.median(x / y for x, y in zip(pushes, bares, strict=True))
    print(f"release: {opts.mib} MiB incompressible, archive {size / 1024**2:.1f} MiB, "
          f"{opts.runs} pairs (push then bare upload)")
    print(f"deploy push (archive+upload+verify+manifest+KV+event): {p:.3f} s "
          f"[{', '.join(f'{t:.3f}' for t in pushes)}]")
    print(f"bare boto3 upload_file of the same bytes:              {b:.3f} s "
          f"[{', '.join(f'{t:.3f}' for t in bares)}]")
    print(f"ratio of medians {p / b:.2f}x, of best runs {min(pushes) / min(bares):.2f}x")
    print(f"ratio (median of pairs): {ratio:.2f}x (goal <= {GOAL}x) -> "
          f"{'met' if ratio <= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
