"""The GoldenImage component under Pulumi mocks: triggers, the app layer's dependency on the base
layer, deletion keeping AMIs, promotion without building, and the fixed-AMI escape hatch.

The builds never run here (the mocks answer each Command with a made-up AMI id on stdout); the
real build script runs against moto in test_image_build_moto.py.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings

from components.image.golden_image import GoldenImage, GoldenImageArgs, GoldenImageError
from components.image.inputs import ROOT, LayerTarget, content_hash
from tests.mocks import UNKNOWN, Registration, WebtierMocks, use_mocks

COMMAND = "command:local:Command"
TAG = "aws:ec2/tag:Tag"
STOCK_AMI = "ami-0d52744d6551d851e"
BASE_AMI = "ami-0ba5e00000000000a"
APP_AMI = "ami-0a0000000000000bb"
PROMOTED = "ami-0promoted0000000"
REGION = "ap-northeast-1"
BUILD = GoldenImageArgs(mode="build", region=REGION, role="webapp", base_source_ami=STOCK_AMI,
                        name_prefix="webapp", keep_last=3, builder_cidr="198.51.100.7/32")


class BuildMocks(WebtierMocks):
    """Answer each layer's Command as build.py would: its AMI id on stdout. Record invokes."""

    def __init__(self, stdout: dict[str, str] | None = None,
                 get_ami: Callable[[dict[str, Any]], Any] | None = None) -> None:
        super().__init__()
        self.stdout = stdout if stdout is not None else {"base": f"{BASE_AMI}\n",
                                                         "app": f"{APP_AMI}\n"}
        self.get_ami = get_ami
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, state = super().new_resource(args)
        if args.typ == COMMAND:
            state["stdout"] = self.stdout[args.inputs["environment"]["WEBTIER_IMAGE_LAYER"]]
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:ec2/getAmi:getAmi" and self.get_ami is not None:
            return self.get_ami(dict(args.args))
        return super().call(args)


def deploy(args: GoldenImageArgs, mocks: BuildMocks | None = None, stack: str = "staging",
           ) -> tuple[list[Registration], dict[str, str]]:
    """Register a GoldenImage under fresh mocks; return the registrations and its outputs."""
    outputs: dict[str, str] = {}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(quiet_about_expected_failures)
    try:
        monitor = use_mocks(stack, preview=False, mocks=mocks or BuildMocks())
        from pulumi.runtime.stack import run_pulumi_func

        def program() -> None:
            image = GoldenImage("golden", args)
            image.image_id.apply(lambda v: outputs.__setitem__("image_id", v))
            image.content_hash.apply(lambda v: outputs.__setitem__("content_hash", v))

        loop.run_until_complete(run_pulumi_func(program))
    finally:
        # A failed run leaves outputs pending; cancel them so the next test starts clean.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        pulumi_settings.SETTINGS.outputs.clear()
        asyncio.set_event_loop(None)
    return monitor.registrations, outputs


def quiet_about_expected_failures(loop: asyncio.AbstractEventLoop,
                                  context: dict[str, Any]) -> None:
    """The outputs of a run that failed on purpose are never read; don't report them unread."""
    if not isinstance(context.get("exception"), GoldenImageError):
        loop.default_exception_handler(context)


def layer_command(regs: list[Registration], layer: str) -> Registration:
    found = [r for r in regs if r.type == COMMAND
             and r.inputs["environment"]["WEBTIER_IMAGE_LAYER"] == layer]
    assert len(found) == 1, f"expected one {layer} command, got {[r.urn for r in found]}"
    return found[0]


def base_hash() -> str:
    return content_hash(LayerTarget("base", REGION, STOCK_AMI))


def app_hash(base_ami: str) -> str:
    return content_hash(LayerTarget("app", REGION, base_ami))


# --- build mode --------------------------------------------------------------------------------


def test_base_build_is_triggered_by_the_base_layer_content_hash() -> None:
    regs, _ = deploy(BUILD)
    base = layer_command(regs, "base")
    assert base.inputs["triggers"] == [base_hash()], base.urn


def test_app_build_starts_from_the_ami_the_base_build_printed() -> None:
    regs, _ = deploy(BUILD)
    app = layer_command(regs, "app")
    assert app.inputs["environment"]["WEBTIER_IMAGE_SOURCE_AMI"] == BASE_AMI, app.urn


def test_app_build_trigger_covers_the_base_ami_id() -> None:
    regs, _ = deploy(BUILD)
    app = layer_command(regs, "app")
    assert app.inputs["triggers"] == [app_hash(BASE_AMI)], app.urn


def test_a_new_base_ami_changes_the_app_trigger_but_not_the_base_trigger() -> None:
    other = BuildMocks({"base": "ami-0ba5e0000000000ff\n", "app": f"{APP_AMI}\n"})
    first, _ = deploy(BUILD)
    second, _ = deploy(BUILD, other)
    assert (layer_command(first, "base").inputs["triggers"]
            == layer_command(second, "base").inputs["triggers"])
    assert (layer_command(first, "app").inputs["triggers"]
            != layer_command(second, "app").inputs["triggers"])


def test_build_passes_the_trigger_hash_for_build_py_to_verify() -> None:
    regs, _ = deploy(BUILD)
    base = layer_command(regs, "base")
    assert base.inputs["environment"]["WEBTIER_IMAGE_CONTENT_HASH"] == base_hash(), base.urn


@pytest.mark.parametrize("layer", ["base", "app"])
def test_build_command_reads_the_same_in_every_checkout_and_runs_from_the_project_root(
        layer: str) -> None:
    # An absolute path (this clone, this interpreter) would make an `up` from another clone
    # re-run the build, and every offline `--base` diff report the builds as changed.
    regs, _ = deploy(BUILD)
    cmd = layer_command(regs, layer)
    assert cmd.inputs["dir"] == ".", cmd.urn
    create = cmd.inputs["create"]
    assert str(ROOT) not in create, create
    assert sys.executable not in create, create
    assert not [w for w in shlex.split(create.replace(";", " ")) if w.startswith("/")], create


def test_build_command_runs_build_py_with_the_venv_python_from_the_project_root(
        tmp_path: Path) -> None:
    # The shell command for real, in a tree shaped like the project: a fake venv python echoes
    # what it was asked to run.
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    fake = tmp_path / "venv" / "bin" / "python"
    fake.write_text('#!/bin/sh\necho "ran $1 in $(pwd)"\n')
    fake.chmod(0o755)
    regs, _ = deploy(BUILD)
    create = layer_command(regs, "base").inputs["create"]
    out = subprocess.run(["/bin/sh", "-c", create], cwd=tmp_path, capture_output=True,
                         text=True, check=True, timeout=30).stdout
    assert out == f"ran image/build.py in {tmp_path}\n"


def test_build_commands_have_no_delete_so_removing_one_keeps_its_ami() -> None:
    regs, _ = deploy(BUILD)
    for reg in regs:
        if reg.type == COMMAND:
            assert "delete" not in reg.inputs, reg.urn
            assert not reg.options["deleteBeforeReplace"], reg.urn


def test_build_commands_are_children_of_the_component() -> None:
    regs, _ = deploy(BUILD)
    component = next(r for r in regs if r.type == "webtier:golden_image:GoldenImage")
    for layer in ("base", "app"):
        assert layer_command(regs, layer).parent == component.urn


def test_build_image_id_is_the_ami_the_app_build_printed() -> None:
    _, outputs = deploy(BUILD)
    assert outputs["image_id"] == APP_AMI


def test_build_content_hash_output_is_the_app_layer_hash() -> None:
    _, outputs = deploy(BUILD)
    assert outputs["content_hash"] == app_hash(BASE_AMI)


def test_build_marks_its_ami_in_use_by_the_stack_so_pruning_spares_it() -> None:
    regs, _ = deploy(BUILD)
    tag = next(r for r in regs if r.type == TAG)
    assert (tag.inputs["resourceId"], tag.inputs["key"]) == (APP_AMI, "in-use-by:staging"), tag.urn


def test_build_that_prints_no_ami_id_fails_the_update() -> None:
    with pytest.raises(Exception, match="instead of an AMI id"):
        deploy(BUILD, BuildMocks({"base": f"{BASE_AMI}\n", "app": ""}))


def test_preview_of_a_first_build_leaves_the_app_trigger_and_image_unknown() -> None:
    # Until the base build has printed its AMI, the app inputs (and so its hash) are unknown.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        monitor = use_mocks("staging", preview=True, mocks=WebtierMocks())
        from pulumi.runtime.stack import run_pulumi_func

        loop.run_until_complete(run_pulumi_func(lambda: GoldenImage("golden", BUILD)))
    finally:
        loop.close()
    regs = monitor.registrations
    assert layer_command(regs, "base").inputs["triggers"] == [base_hash()]
    assert layer_command(regs, "app").inputs["triggers"] == [UNKNOWN]
    assert next(r for r in regs if r.type == TAG).inputs["resourceId"] is UNKNOWN


# --- promote mode ------------------------------------------------------------------------------

PROMOTE = replace(BUILD, mode="promote")


def ami_lookups(mocks: BuildMocks) -> list[dict[str, list[str]]]:
    """The tag filters of each getAmi invoke, in order."""
    return [{f["name"]: f["values"] for f in args["filters"]}
            for token, args in mocks.calls if token == "aws:ec2/getAmi:getAmi"]


def test_promote_registers_no_build() -> None:
    regs, _ = deploy(PROMOTE, stack="production")
    assert [r.urn for r in regs if r.type == COMMAND] == []


def test_promote_finds_the_base_ami_by_the_base_layer_hash() -> None:
    mocks = BuildMocks()
    deploy(PROMOTE, mocks, stack="production")
    first = ami_lookups(mocks)[0]
    assert (first["tag:layer"], first["tag:content-hash"]) == (["base"], [base_hash()])


def test_promote_finds_the_app_ami_by_the_hash_over_the_promoted_base() -> None:
    mocks = BuildMocks()
    deploy(PROMOTE, mocks, stack="production")
    second = ami_lookups(mocks)[1]
    assert (second["tag:layer"], second["tag:content-hash"]) == (["app"], [app_hash(PROMOTED)])


def test_promote_only_considers_own_ami_of_this_role() -> None:
    mocks = BuildMocks()
    deploy(PROMOTE, mocks, stack="production")
    args = next(a for t, a in mocks.calls if t == "aws:ec2/getAmi:getAmi")
    assert args["owners"] == ["self"]
    assert {f["name"]: f["values"] for f in args["filters"]}["tag:role"] == ["webapp"]


def test_promote_image_id_is_the_ami_staging_built() -> None:
    _, outputs = deploy(PROMOTE, stack="production")
    assert outputs["image_id"] == PROMOTED


def test_promote_before_staging_built_says_what_to_do() -> None:
    def nothing(_args: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # How the provider answers a lookup that matches no AMI: a failed invoke.
        return {}, [("", "Your query returned no results. Please change your search criteria")]

    with pytest.raises(GoldenImageError, match=r"update the stack that builds \(staging\) first"):
        deploy(PROMOTE, BuildMocks(get_ami=nothing), stack="production")


# --- ami mode ----------------------------------------------------------------------------------


def test_fixed_ami_is_used_without_build_or_lookup() -> None:
    mocks = BuildMocks()
    regs, outputs = deploy(GoldenImageArgs(mode="ami", region=REGION, role="webapp",
                                           ami_id="ami-0f00000000000000d"), mocks)
    assert outputs["image_id"] == "ami-0f00000000000000d"
    assert [r.type for r in regs if r.type in (COMMAND, TAG)] == []
    assert ami_lookups(mocks) == []


