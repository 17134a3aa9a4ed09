"""Runs the program under Pulumi's mock engine and records every registration, inputs and options.

Shared by the unit tests (through tests/mocks.py) and the offline plan: both must see the program
exactly as `pulumi preview` would hand it to the engine, without a CLI, a backend or credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks

from components import pulumi_sdk
from contracts.stack_file import load_stack_config

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "webtier"


class _Marker:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


SECRET = _Marker("[secret]")
"""Stands in for a secret input value in recorded registrations."""
UNKNOWN = _Marker("[unknown]")
"""Stands in for a value that is only known after the update (e.g. a Packer build's AMI id)."""

# Placeholders for the secrets no committed stack file holds. Tests check none of these strings
# ever shows up in plain text anywhere.
PLACEHOLDER_SECRETS: Mapping[str, str] = {
    "webtier:consulGossipKey": "PLACEHOLDER-gossip-key-c29tZS1nb3NzaXAta2V5",
    "webtier:consulAgentToken": "PLACEHOLDER-agent-token-7f3e9b1c",
    "webtier:consulTemplateToken": "PLACEHOLDER-template-token-2d8a4c6e",
    "webtier:consulKvToken": "PLACEHOLDER-kv-token-9b5d1f3a",
}
PLACEHOLDER_KV_SECRET = "PLACEHOLDER-kv-secret-value-4e6a8c0b"
# What the mocks' AMI lookup finds: the AMI a promoting stack (production) would launch from.
PROMOTED_AMI = "ami-0promoted0000000"


@dataclass
class Registration:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)


def _unwrap(value: Any) -> Any:
    """Turn a wire-format property value into plain data with SECRET/UNKNOWN markers."""
    if isinstance(value, dict):
        sig = value.get(pulumi_sdk.SIG_KEY)
        if sig == pulumi_sdk.SECRET_SIG:
            return SECRET
        if sig == pulumi_sdk.RESOURCE_SIG:
            return value.get("urn", "")
        if sig == pulumi_sdk.OUTPUT_VALUE_SIG:
            if value.get("secret"):
                return SECRET
            return _unwrap(value["value"]) if "value" in value else UNKNOWN
        if sig in pulumi_sdk.ASSET_SIGS:
            return "[asset]"
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if value == pulumi_sdk.UNKNOWN:
        return UNKNOWN
    return value


class WebtierMocks(pulumi.runtime.Mocks):
    """Echo inputs, add what AWS would compute, answer data sources by token."""

    def __init__(self, account: str = "123456789012", *, run_commands: bool = False) -> None:
        self.account = account
        self.run_commands = run_commands

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        token = args.typ
        service = token.split(":")[1].split("/")[0] if ":" in token else "x"
        physical = state.get("name") or (f"{state['namePrefix']}mock" if "namePrefix" in state
                                         else f"{args.name}-mock")
        if "name" not in state and ("namePrefix" in state or token.startswith("aws:")):
            state["name"] = physical
        if token.startswith("aws:"):
            state.setdefault("arn", f"arn:aws:{service}:ap-northeast-1:{self.account}:"
                                    f"{token.split(':')[-1].lower()}/{physical}")
        if token == "aws:ec2/launchTemplate:LaunchTemplate":
            state.setdefault("latestVersion", 1)
        if token == "aws:s3/bucketV2:BucketV2" or token == "aws:s3/bucket:Bucket":
            state.setdefault("bucket", state.get("bucket") or physical)
        if token == "aws:lb/loadBalancer:LoadBalancer":
            state.setdefault("dnsName", f"{physical}.elb.amazonaws.com")
            state.setdefault("arnSuffix", f"app/{physical}/0123456789")
        if token == "aws:lb/targetGroup:TargetGroup":
            state.setdefault("arnSuffix", f"targetgroup/{physical}/0123456789")
        if token == "aws:iam/role:Role":
            state.setdefault("uniqueId", "AROAMOCK")
        # A preview never runs commands: no stdout, so the Packer build's AMI id stays unknown,
        # as in `pulumi preview`. Simulating an update, a build "prints" an AMI id of its own.
        if token == "command:local:Command" and self.run_commands:
            digest = hashlib.sha256(args.name.encode()).hexdigest()[:17]
            state["stdout"] = f"ami-{digest}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:user/mock",
                    "userId": "AIDAMOCK", "id": self.account}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "ap-northeast-1", "region": "ap-northeast-1", "id": "ap-northeast-1"}
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": PROMOTED_AMI, "imageId": PROMOTED_AMI,
                    "name": "webapp-app-mock", "tags": {}}
        if args.token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Version": "2012-10-17", "Statement": []})}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that keeps each registration's inputs and resource options, in order."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        outputs: dict[str, Any] = {}
        if response.object is not None:
            outputs = _unwrap(json_format.MessageToDict(response.object,
                                                        preserving_proto_field_name=True))
        if response.id:
            outputs.setdefault("id", response.id)
        self.registrations.append(Registration(
            type=request.type,
            name=request.name,
            urn=response.urn,
            parent=request.parent,
            custom=bool(request.custom),
            inputs=_unwrap(raw),
            options={
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "ignoreChanges": sorted(request.ignoreChanges),
                "replaceOnChanges": sorted(request.replaceOnChanges),
                "retainOnDelete": bool(request.retainOnDelete)
                if request.HasField("retainOnDelete") else False,
                "protect": bool(request.protect) if request.HasField("protect") else False,
                "dependsOn": sorted(request.dependencies),
                "additionalSecretOutputs": sorted(request.additionalSecretOutputs),
                # Only when set: how long the engine lets the provider wait (create, update).
                **({"customTimeouts": {"create": request.customTimeouts.create,
                                       "update": request.customTimeouts.update,
                                       "delete": request.customTimeouts.delete}}
                   if request.HasField("customTimeouts") else {}),
            },
            outputs=outputs,
        ))
        return response

    def by_type(self, token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == token]


def use_mocks(stack: str = "staging", *, preview: bool = False,
              mocks: pulumi.runtime.Mocks | None = None,
              config: Mapping[str, str] | None = None,
              secret_keys: list[str] | None = None) -> RecordingMonitor:
    """Install fresh mocks (and optionally config) and return the recording monitor."""
    if config is not None:
        pulumi.runtime.set_all_config(dict(config), secret_keys or [])
    monitor = RecordingMonitor(mocks or WebtierMocks(run_commands=not preview))
    pulumi_sdk.reset_root_stack()  # a fresh root stack for every run
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview,
                             monitor=monitor)
    return monitor


def is_encrypted(value: Any) -> bool:
    """A stack file value `pulumi config set --secret` wrote: {secure: <ciphertext>}, or an
    object whose every leaf is one (set with --path)."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return True
        return bool(value) and all(is_encrypted(v) for v in value.values())
    return False


def stack_config(stack: str, *, root: Path = ROOT,
                 overrides: Mapping[str, Any] | None = None,
                 secrets: bool = True) -> tuple[dict[str, str], list[str]]:
    """A stack's committed config as the engine passes it, with placeholder secrets added.

    ``overrides`` replaces whole keys ("webtier:fleet") or, with a dotted path
    ("webtier:fleet.instanceType"), one field; a value of None removes it.
    """
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name}: stacks are {', '.join(known)}")
    values: dict[str, Any] = dict(load_stack_config(path))
    secret_keys: list[str] = []
    if secrets:
        kv = values.get(f"{PROJECT}:kv")
        listed = kv.get("secretKeys") if isinstance(kv, dict) else None
        placeholders = {**PLACEHOLDER_SECRETS, f"{PROJECT}:kvSecrets": {
            str(k): PLACEHOLDER_KV_SECRET for k in (listed if isinstance(listed, list) else [])}}
        for key, placeholder in placeholders.items():
            # A plain-text value stays as it is, not marked secret: the settings then refuse it
            # exactly as they do under `pulumi up`, instead of the plan hiding it.
            if key not in values or is_encrypted(values[key]):
                values[key] = placeholder
                secret_keys.append(key)
    for key, value in (overrides or {}).items():
        top, _, path_ = key.partition(".")
        if not path_:
            if value is None:
                values.pop(top, None)
            else:
                values[top] = value
            continue
        node = values.setdefault(top, {})
        parts = path_.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return config, secret_keys


@contextmanager
def _program_path(root: Path) -> Iterator[None]:
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))


@dataclass
class StackRun:
    registrations: list[Registration]
    outputs: dict[str, Any]


def run_program(stack: str, *, root: Path = ROOT, config_overrides: Mapping[str, Any] | None = None,
                preview: bool = True, mocks: pulumi.runtime.Mocks | None = None) -> StackRun:
    """Run ``root/__main__.py`` for ``stack`` under mocks; return registrations and exports."""
    config, secret_keys = stack_config(stack, root=root, overrides=config_overrides)
    exports: dict[str, Any] = {}
    # The root stack resource created by set_mocks binds to the current loop: set ours first.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = _ClosingExecutor()
    loop.set_default_executor(executor)
    try:
        with pulumi_sdk.recording_exports(exports):
            monitor = use_mocks(stack, preview=preview, mocks=mocks, config=config,
                                secret_keys=secret_keys)
            pulumi_sdk.clear_pending_work()
            with _program_path(root):
                loop.run_until_complete(_run(root))
                resolved = loop.run_until_complete(_resolve(exports))
    finally:
        loop.close()
        executor.close_loops()
        asyncio.set_event_loop(None)
    return StackRun(monitor.registrations, resolved)


class _ClosingExecutor(ThreadPoolExecutor):
    """The SDK's mock monitor runs in executor threads and gives each an event loop it never
    closes. Left to the garbage collector at exit, such a loop finds its self-pipe socket already
    finalised and prints "Exception ignored ... Invalid file descriptor: -1" on stderr. So each
    worker gets a loop made here, and all of them are closed once the workers have stopped."""

    def __init__(self) -> None:
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        super().__init__(thread_name_prefix="mock-engine", initializer=self._give_loop)

    def _give_loop(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self._lock:
            self._loops.append(loop)

    def close_loops(self) -> None:
        self.shutdown(wait=True)
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            loop.close()


async def _run(root: Path) -> None:
    from pulumi.runtime.stack import run_pulumi_func

    def program() -> None:
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    await run_pulumi_func(program)


async def _resolve(exports: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in exports.items():
        output = pulumi.Output.from_input(value)
        if not await output.is_known():
            out[name] = UNKNOWN
        elif await output.is_secret():
            out[name] = SECRET
        else:
            out[name] = await output.future()
    return out


def run_stack(stack: str, *, root: Path = ROOT, config_overrides: Mapping[str, Any] | None = None,
              preview: bool = True) -> list[Registration]:
    """The registrations ``pulumi preview`` of ``stack`` would send, in order."""
    return run_program(stack, root=root, config_overrides=config_overrides,
                       preview=preview).registrations
