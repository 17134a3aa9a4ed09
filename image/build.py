"""Build one golden-image layer with Packer and print its AMI id; the GoldenImage component runs it.

    python image/build.py --layer base --region ap-northeast-1 --source-ami ami-... [...]

Every flag can also come from the environment (WEBTIER_IMAGE_LAYER, WEBTIER_IMAGE_REGION, ...),
which is how the component passes them. stdout carries exactly one line, the AMI id, and only on
success; Packer's output and every diagnostic go to stderr.

If an AMI tagged with this layer's content hash already exists, it is printed without building
(the no-change path). After a build, AMIs of the layer beyond the newest --keep-last are
deregistered, except those a stack marks in use (tag `in-use-by:<stack>`). Temporary `packer_*`
key pairs and security groups that Packer announced are deleted if Packer left them behind.

Exit codes: EXIT_CODES below (docs/exit-codes.md is generated from it).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

IMAGE_DIR = Path(__file__).resolve().parent
ROOT = IMAGE_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.image.inputs import (  # noqa: E402 (needs the repo root on sys.path)
    BuildOptions,
    ImageInputsError,
    LayerTarget,
    content_hash,
    packer_only,
    packer_variables,
    parse_layer,
)
from contracts import image_tags  # noqa: E402 (needs the repo root on sys.path)
from contracts.aws_ids import (  # noqa: E402 (needs the repo root on sys.path)
    AMI_ID,
    INSTANCE_TYPE,
    REGION,
    SUBNET_ID,
)

# The Go tools scripts/go-tools builds: Packer 1.9 (1.10 and later are not open source) and the
# amazon plugin the template pins.
TOOLS_BIN = ROOT / ".tools" / "bin"
TOOLS_PLUGINS = ROOT / ".tools" / "packer-plugins"
PACKER_RELEASE = (1, 9)
CLEANUP_GRACE_SECONDS = 600.0
# Defined once: docs/exit-codes.md is generated from it (python -m contracts.exit_code_table).
EXIT_CODES = {
    0: "AMI id on stdout",
    1: "bad input, AWS error or failed build",
    2: "bad usage",
    130: "interrupted (Packer stopped, temporaries swept)",
}
CHECKIP_URL = "https://checkip.amazonaws.com"
# Packer announces its temporary resources by name; these are what a crash could leave behind.
_TEMP_KEYPAIR = re.compile(r"Creating temporary keypair: (packer_[0-9a-f-]+)")
_TEMP_SG = re.compile(r"Creating temporary security group for this instance: (packer_[0-9a-f-]+)")
# Lines that carry Packer's own error text, repeated at the end so they survive log truncation.
_ERROR_LINE = re.compile(r"^(Build '.*' errored|--> |Error|\* )")


class BuildError(Exception):
    """The build failed; the message is what the user needs to act on."""


@dataclass
class PackerRun:
    returncode: int
    keypairs: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def main(argv: Sequence[str] | None = None, *, ec2: Any = None) -> int:
    try:
        ami = run(_parse(argv), ec2)
    except (BuildError, ImageInputsError) as err:
        print(f"build.py: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build.py: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        # boto3's errors (no credentials, access denied, unreachable endpoint) are not ours to
        # import at the top: the no-change path never loads boto3.
        if not type(err).__module__.startswith(("botocore", "boto3")):
            raise
        print(f"build.py: AWS: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    print(ami)
    return 0


def run(args: argparse.Namespace, ec2: Any = None) -> str:
    layer = parse_layer(args.layer or "")
    for flag in ("region", "source_ami"):
        if not getattr(args, flag):
            raise BuildError(f"--{flag.replace('_', '-')} (WEBTIER_IMAGE_{flag.upper()}) is "
                             f"required for the {layer} layer")
    # Whole-string ID rules (contracts/aws_ids.py): a value with a newline never reaches Packer.
    for flag, rule in (("region", REGION), ("source_ami", AMI_ID), ("subnet_id", SUBNET_ID),
                       ("instance_type", INSTANCE_TYPE)):
        value = getattr(args, flag, None)
        if value is not None and not rule.matches(value):
            raise BuildError(f"--{flag.replace('_', '-')} {value!r}: {rule.allowed}")
    target = LayerTarget(layer=layer, region=args.region, source_ami=args.source_ami)
    digest = content_hash(target, ROOT)
    if args.expected_hash and args.expected_hash != digest:
        # The component computed its trigger from the files at preview time; tagging the AMI
        # with another hash would make that trigger point at nothing.
        raise BuildError(f"the {layer} layer's inputs changed since the program computed its "
                         f"trigger ({args.expected_hash[:12]}… → {digest[:12]}…); run the "
                         "update again")
    ec2 = ec2 or _ec2_client(args.region, args.ec2_double)

    existing = find_existing(ec2, args.role, layer, digest)
    if existing:
        _say(f"{layer} layer unchanged: {existing} already has content-hash {digest[:12]}…")
        return existing

    options = BuildOptions(
        instance_type=args.instance_type, name_prefix=args.name_prefix, role=args.role,
        git_revision=args.git_revision or _git_revision(), subnet_id=args.subnet_id or "",
        builder_cidrs=_cidrs(args.builder_cidr) or (_own_cidr(),),
        ec2_double=args.ec2_double,
    )
    token = uuid.uuid4().hex
    manifest = Path(args.manifest or IMAGE_DIR / f"manifest-{layer}.json").resolve()
    with tempfile.TemporaryDirectory(prefix="webtier-image-") as tmp:
        var_file = Path(tmp, "variables.json")
        var_file.write_text(json.dumps(packer_variables(
            target, digest, options, build_token=token, manifest_path=manifest)))
        env = packer_env(args.ec2_double)
        _init_plugins(args.packer, env)
        outcome = run_packer(
            [args.packer, "build", "-color=false", f"-only={packer_only(layer)}",
             f"-var-file={var_file}", str(IMAGE_DIR)],
            timeout=args.timeout, env=env,
        )
    swept = sweep_temporaries(ec2, outcome.keypairs, outcome.security_groups)
    for name in swept:
        _say(f"deleted {name}, which Packer left behind")
    if outcome.returncode != 0:
        detail = "\n".join(outcome.errors) or "(Packer printed no error line; see its log above)"
        raise BuildError(f"packer build of the {layer} layer failed "
                         f"(exit {outcome.returncode}):\n{detail}")
    ami = ami_from_manifest(manifest, token, args.region)
    for pruned in prune(ec2, args.role, layer, args.keep_last, keep={ami}):
        _say(f"deregistered {pruned} (older than the newest {args.keep_last} {layer} AMIs)")
    return ami


# --- Packer ------------------------------------------------------------------------------------

def run_packer(command: list[str], *, timeout: float, env: dict[str, str]) -> PackerRun:
    """Run Packer, mirror its output to stderr, and note what it created and what it reported."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, text=True, bufsize=1,
                            # Only we signal Packer, once: a terminal Ctrl-C reaches us alone.
                            start_new_session=True)
    outcome = PackerRun(returncode=-1)
    interrupted = threading.Event()
    # After asking Packer to stop, give its cleanup this long before killing it outright.
    killer = threading.Timer(CLEANUP_GRACE_SECONDS, proc.kill)
    killer.daemon = True

    def interrupt(_signum: int = 0, _frame: object = None) -> None:
        # Packer deletes its instance, key pair and security group on SIGINT: let it.
        if not interrupted.is_set():
            interrupted.set()
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            killer.start()

    timer = threading.Timer(timeout, interrupt)
    timer.daemon = True
    timer.start()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stderr.write(line)
            _note(outcome, line.rstrip("\n"))
        proc.wait()
    finally:
        timer.cancel()
        killer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    outcome.returncode = proc.returncode
    if interrupted.is_set() and outcome.returncode == 0:
        outcome.returncode = 130
    if interrupted.is_set():
        outcome.errors.append("the build was interrupted (signal or --timeout)")
    return outcome


def _note(outcome: PackerRun, line: str) -> None:
    if match := _TEMP_KEYPAIR.search(line):
        outcome.keypairs.append(match.group(1))
    if match := _TEMP_SG.search(line):
        outcome.security_groups.append(match.group(1))
    if _ERROR_LINE.match(line.strip()) and line.strip() not in outcome.errors:
        outcome.errors.append(line.strip())


def _init_plugins(packer: str, env: dict[str, str]) -> None:
    """Check the Packer release, then let `packer init` find the pinned amazon plugin.

    The plugin is already in PACKER_PLUGIN_PATH (scripts/go-tools builds it), so `init` only
    verifies it and needs no network.
    """
    try:
        version = subprocess.run([packer, "version"], capture_output=True, text=True, env=env,
                                 timeout=60, check=False).stdout
    except FileNotFoundError:
        raise BuildError(f"Packer not found at {packer!r}; run scripts/setup (it builds "
                         f"{TOOLS_BIN / 'packer'}) or pass --packer") from None
    match = re.search(r"v(\d+)\.(\d+)", version)
    if not match or (int(match.group(1)), int(match.group(2))) != PACKER_RELEASE:
        found = version.strip().splitlines()[0] if version.strip() else "no version"
        raise BuildError(f"{packer} is {found}; the template needs Packer "
                         f"{PACKER_RELEASE[0]}.{PACKER_RELEASE[1]}.x (later releases are not open "
                         f"source): use {TOOLS_BIN / 'packer'} from scripts/setup or pass --packer")
    result = subprocess.run([packer, "init", str(IMAGE_DIR)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, timeout=600,
                            check=False)
    sys.stderr.write(result.stdout)
    if result.returncode != 0:
        raise BuildError(f"packer init {IMAGE_DIR} failed (exit {result.returncode}): the pinned "
                         f"amazon plugin is not in PACKER_PLUGIN_PATH "
                         f"({env.get('PACKER_PLUGIN_PATH', 'unset')}); run scripts/setup")


def packer_env(ec2_double: str | None = None) -> dict[str, str]:
    """Packer's environment: our ansible-playbook first, the project's plugins, no phoning home."""
    env = dict(os.environ)
    # Packer's Ansible provisioner needs ansible-playbook from the same environment as us.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PACKER_NO_COLOR", "1")
    # Packer's update check (checkpoint) would reach for the network on every run.
    env.setdefault("CHECKPOINT_DISABLE", "1")
    if TOOLS_PLUGINS.is_dir():
        env.setdefault("PACKER_PLUGIN_PATH", str(TOOLS_PLUGINS))
    if ec2_double:
        # The amazon plugin's AMI copy (encrypt_boot) makes its own SDK v2 client, which ignores
        # the template's custom_endpoint_ec2 but reads the SDK's endpoint variable.
        env["AWS_ENDPOINT_URL_EC2"] = ec2_double
    return env


def ami_from_manifest(manifest: Path, token: str, region: str) -> str:
    """The AMI of this run: the manifest entry with this run's uuid and our build token."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        raise BuildError(f"Packer reported success but its manifest {manifest} is unreadable: "
                         f"{err}") from None
    run_uuid = data.get("last_run_uuid")
    for build in reversed(data.get("builds", [])):
        if build.get("packer_run_uuid") != run_uuid:
            continue
        if (build.get("custom_data") or {}).get("build_token") != token:
            continue
        artifact = str(build.get("artifact_id", ""))
        for part in artifact.split(","):
            artifact_region, _, ami = part.partition(":")
            if artifact_region == region and ami.startswith("ami-"):
                return ami
        raise BuildError(f"this run's manifest entry has no AMI in {region}: {artifact!r}")
    raise BuildError(f"Packer reported success but {manifest} has no entry for this run "
                     f"(packer_run_uuid {run_uuid}); no AMI was produced")


# --- EC2 ---------------------------------------------------------------------------------------

def find_existing(ec2: Any, role: str, layer: str, digest: str) -> str | None:
    """The newest available AMI of ours already built from exactly these inputs."""
    images = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": f"tag:{image_tags.ROLE_TAG}", "Values": [role]},
        {"Name": f"tag:{image_tags.LAYER_TAG}", "Values": [layer]},
        {"Name": f"tag:{image_tags.CONTENT_HASH_TAG}", "Values": [digest]},
        {"Name": "state", "Values": ["available"]},
    ])["Images"]
    if not images:
        return None
    return str(max(images, key=lambda image: image.get("CreationDate", ""))["ImageId"])


def prune(ec2: Any, role: str, layer: str, keep_last: int, keep: Iterable[str]) -> list[str]:
    """Deregister the layer's AMIs beyond the newest `keep_last`, and their snapshots.

    Never touches `keep` (this run's AMI and its source) nor AMIs tagged in use by a stack.
    """
    images = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": f"tag:{image_tags.ROLE_TAG}", "Values": [role]},
        {"Name": f"tag:{image_tags.LAYER_TAG}", "Values": [layer]},
    ])["Images"]
    images.sort(key=lambda image: image.get("CreationDate", ""), reverse=True)
    protected = set(keep)
    pruned = []
    for image in images[max(keep_last, 1):]:
        tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
        in_use = any(k.startswith(image_tags.IN_USE_TAG_PREFIX) for k in tags)
        if image["ImageId"] in protected or in_use:
            continue
        ec2.deregister_image(ImageId=image["ImageId"])
        for mapping in image.get("BlockDeviceMappings", []):
            snapshot = mapping.get("Ebs", {}).get("SnapshotId")
            if snapshot:
                ec2.delete_snapshot(SnapshotId=snapshot)
        pruned.append(image["ImageId"])
    return pruned


def sweep_temporaries(ec2: Any, keypairs: Iterable[str],
                      security_groups: Iterable[str]) -> list[str]:
    """Delete the named packer_* key pairs and security groups that still exist."""
    swept = []
    for name in keypairs:
        if ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [name]}])["KeyPairs"]:
            ec2.delete_key_pair(KeyName=name)
            swept.append(f"key pair {name}")
    for name in security_groups:
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        for group in groups:
            group_id = str(group["GroupId"])
            # The builder may still be shutting down and holding the group; retry briefly.
            _retry(partial(ec2.delete_security_group, GroupId=group_id))
            swept.append(f"security group {name} ({group_id})")
    return swept


def _retry(action: Callable[[], object], attempts: int = 10, pause: float = 6.0) -> None:
    for attempt in range(attempts):
        try:
            action()
            return
        except Exception as err:  # botocore's ClientError, kept import-free here
            if "DependencyViolation" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(pause)


def _ec2_client(region: str, endpoint: str | None) -> Any:
    import boto3  # late: the no-change path through main(ec2=...) and the tests never need it

    return boto3.client("ec2", region_name=region, endpoint_url=endpoint or None)


# --- Host facts --------------------------------------------------------------------------------

def _cidrs(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _own_cidr() -> str:
    """The build host's public address as a /32, for the builder's temporary security group."""
    try:
        with urllib.request.urlopen(CHECKIP_URL, timeout=10) as response:
            address = response.read().decode().strip()
    except OSError as err:
        raise BuildError(f"could not learn this host's public address from {CHECKIP_URL} "
                         f"({err}); pass --builder-cidr (WEBTIER_IMAGE_BUILDER_CIDR), e.g. "
                         "203.0.113.7/32") from None
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", address):
        raise BuildError(f"{CHECKIP_URL} answered {address!r}, not an IPv4 address; pass "
                         "--builder-cidr (WEBTIER_IMAGE_BUILDER_CIDR)")
    return f"{address}/32"


def _git_revision() -> str:
    try:
        result = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _say(message: str) -> None:
    print(f"build.py: {message}", file=sys.stderr)


# flag, environment variable, default, help: every flag can come from the environment instead.
_OPTIONS: tuple[tuple[str, str, str | None, str], ...] = (
    ("--layer", "WEBTIER_IMAGE_LAYER", None, "base or app"),
    ("--region", "WEBTIER_IMAGE_REGION", None, "region of the builder and the AMIs"),
    ("--source-ami", "WEBTIER_IMAGE_SOURCE_AMI", None,
     "base: the stock AMI; app: the base layer's AMI"),
    ("--instance-type", "WEBTIER_IMAGE_INSTANCE_TYPE", "t3.small", "builder instance type"),
    ("--name-prefix", "WEBTIER_IMAGE_NAME_PREFIX", "webtier", "AMI names start with this"),
    ("--role", "WEBTIER_IMAGE_ROLE", "webtier", "value of the role tag the AMIs are found by"),
    ("--keep-last", "WEBTIER_IMAGE_KEEP_LAST", "3", "AMIs of the layer kept after a build"),
    ("--builder-cidr", "WEBTIER_IMAGE_BUILDER_CIDR", None,
     "comma-separated addresses allowed to reach the builder; default: this host's public one"),
    ("--subnet-id", "WEBTIER_IMAGE_SUBNET_ID", None, "builder subnet; default: the default VPC"),
    ("--expected-hash", "WEBTIER_IMAGE_CONTENT_HASH", None,
     "refuse to build if the inputs no longer hash to this"),
    ("--git-revision", "WEBTIER_GIT_REVISION", None, "default: git rev-parse HEAD"),
    ("--manifest", "WEBTIER_IMAGE_MANIFEST", None, "default: image/manifest-<layer>.json"),
    ("--packer", "WEBTIER_PACKER", str(TOOLS_BIN / "packer") if (TOOLS_BIN / "packer").exists()
     else "packer", "the Packer 1.9 binary"),
    ("--timeout", "WEBTIER_IMAGE_TIMEOUT", "3600", "seconds before the build is interrupted"),
    ("--ec2-double", "WEBTIER_IMAGE_EC2_DOUBLE", None,
     "dry run against a local EC2 double (moto) at this endpoint: communicator none, "
     "nothing provisioned"),
)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    for flag, variable, default, _ in _OPTIONS:
        dest = flag[2:].replace("-", "_")
        if getattr(args, dest) is None:
            setattr(args, dest, os.environ.get(variable, default))
    try:
        args.keep_last = int(args.keep_last)
        args.timeout = float(args.timeout)
    except ValueError as err:
        raise BuildError(f"--keep-last (WEBTIER_IMAGE_KEEP_LAST) and --timeout "
                         f"(WEBTIER_IMAGE_TIMEOUT) must be numbers: {err}") from None
    if args.keep_last < 1 or not 0 < args.timeout < float("inf"):
        raise BuildError(f"--keep-last {args.keep_last} must be at least 1 and --timeout "
                         f"{args.timeout:g} a positive number of seconds")
    if args.ec2_double and not _is_url(args.ec2_double):
        raise BuildError(f"--ec2-double (WEBTIER_IMAGE_EC2_DOUBLE) {args.ec2_double!r}: must "
                         "be an http(s)://host[:port] URL")
    return args


def _is_url(text: str) -> bool:
    try:
        parsed = urllib.parse.urlsplit(text)
        _ = parsed.port  # raises for a port that is not a number or out of range
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.hostname) and " " not in text


@functools.cache
def _parser() -> argparse.ArgumentParser:
    # Built once per process; the environment is read per call, in _parse.
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="exit codes: " + "; ".join(
                                         f"{c} {m}" for c, m in EXIT_CODES.items()))
    for flag, variable, default, text in _OPTIONS:
        suffix = f" (default: {default})" if default else ""
        parser.add_argument(flag, help=f"{text}; env {variable}{suffix}")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
