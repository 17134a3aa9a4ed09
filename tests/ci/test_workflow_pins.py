"""The workflows' pins and caches: every action pinned by SHA with its release, the Pulumi SDK, CLI
and Go module moving together, one Go tools cache entry per tool, venv-only jobs."""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.test_workflows import (
    ACTION_INPUTS,
    COMPOSITE,
    PINS,
    PYTHON_ACTION,
    ROOT,
    SHA_PINNED,
    WORKFLOWS,
    load,
    major,
    pulumi_steps,
    steps,
    workflow_files,
    workflows,
)


def uses_lines() -> list[tuple[str, str]]:
    """(file, `uses:` line) for every step of every workflow and of the composite actions."""
    return [(p.name, line.strip()) for p in [*workflow_files(), COMPOSITE, PYTHON_ACTION]
            for line in p.read_text().splitlines() if line.strip().lstrip("- ").startswith("uses:")]


def test_remote_actions_are_pinned_to_a_full_commit_sha_with_their_release_comment() -> None:
    for name, line in uses_lines():
        uses, _, comment = line.split("uses:", 1)[1].partition("#")
        uses = uses.strip()
        if uses.startswith("./"):
            continue
        assert SHA_PINNED.match(uses), f"{name}: {uses} is not pinned by commit SHA"
        assert uses in PINS, f"{name}: {uses} is no known release"
        assert comment.strip() == PINS[uses][1], f"{name}: {line} (expected # {PINS[uses][1]})"
        assert re.fullmatch(r"v\d+\.\d+\.\d+", comment.strip()), line


def test_dependabot_moves_the_sdk_and_the_go_cli_module_in_one_group() -> None:
    doc = load(ROOT / ".github" / "dependabot.yml")
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "dependabot.json").read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(doc)) == []
    updates = {(u["package-ecosystem"], u["directory"]): u for u in doc["updates"]}
    assert set(updates) == {("github-actions", "/"), ("pip", "/"), ("gomod", "/gotools/pulumi")}
    assert "pulumi" in doc["multi-ecosystem-groups"]
    for key in (("pip", "/"), ("gomod", "/gotools/pulumi")):
        assert updates[key]["multi-ecosystem-group"] == "pulumi", key
    assert "pulumi" in updates[("pip", "/")]["patterns"]
    assert "github.com/pulumi/pulumi/*" in updates[("gomod", "/gotools/pulumi")]["patterns"]


def pinned_sdk() -> str:
    found = re.search(r'"pulumi==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert found, "pyproject.toml does not pin pulumi=="
    return found.group(1)


def test_the_sdk_the_requirements_and_the_go_cli_module_are_one_release() -> None:
    sdk = pinned_sdk()
    assert f"pulumi=={sdk}\n" in (ROOT / "requirements.txt").read_text()
    go_mod = (ROOT / "gotools" / "pulumi" / "go.mod").read_text()
    assert re.search(rf"^require github.com/pulumi/pulumi/pkg/v3 v{re.escape(sdk)}$", go_mod,
                     re.MULTILINE), "gotools/pulumi/go.mod builds another CLI than the SDK's"
    # pkg/v3's own go.mod replaces sdk/v3 with ../sdk: here it is a require at the same release.
    assert re.search(rf"^\s*github.com/pulumi/pulumi/sdk/v3 v{re.escape(sdk)}\b", go_mod,
                     re.MULTILINE), "gotools/pulumi/go.mod requires another sdk/v3 than pkg/v3"


def test_pulumi_actions_installs_the_cli_of_the_installed_sdk() -> None:
    for wf_name, job_id, job, step in pulumi_steps():
        assert step["with"]["pulumi-version"] == "${{ steps.sdk.outputs.version }}", job_id
        (sdk,) = [s for s in steps(job) if s.get("id") == "sdk"]
        assert 'm.version("pulumi")' in sdk["run"], f"{wf_name}:{job_id}"
        assert steps(job).index(sdk) < steps(job).index(step)
        # The command the step runs really prints the pinned SDK's release.
        command = sdk["run"].split("$(", 1)[1].rsplit(")", 1)[0]
        printed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout.strip()
        assert printed == pinned_sdk()


def jobs_of(name: str) -> dict[str, Any]:
    jobs: dict[str, Any] = load(WORKFLOWS / name)["jobs"]
    return jobs


def setup_runs(job: dict[str, Any]) -> list[str]:
    return [str(s["run"]) for s in steps(job) if "scripts/setup" in str(s.get("run", ""))]


def test_plan_preview_and_up_jobs_install_only_the_venv() -> None:
    assert setup_runs(jobs_of("pull-request.yml")["offline-plan"]) == [
        "bash scripts/setup --venv-only"]
    for _wf, job_id, job, _step in pulumi_steps():
        assert setup_runs(job) == ["bash scripts/setup --venv-only"], job_id


def go_tool_names() -> list[str]:
    text = (ROOT / "scripts" / "go-tools").read_text()
    return re.findall(r'^  "([\w-]+)\|', text, re.MULTILINE)


def test_every_go_tool_has_its_own_cache_entry_keyed_on_its_go_mod_and_go_sum() -> None:
    names = go_tool_names()
    assert "pulumi" in names
    assert "consul" in names
    entries = [s for s in load(COMPOSITE)["runs"]["steps"]]
    by_key = {e["with"]["key"]: e["with"]["path"] for e in entries}
    for name in names:
        assert (ROOT / "gotools" / name / "go.sum").is_file(), name
        key = (f"go-tool-{name}-${{{{ runner.os }}}}-${{{{ hashFiles('gotools/{name}/go.mod', "
               f"'gotools/{name}/go.sum') }}}}")
        # scripts/go-tools keeps a build in $WEBTIER_TOOLS_CACHE/<name>-<version>-<hash>.
        assert by_key.get(key) == f"~/.cache/webtier-tools/{name}-v*", (name, by_key)
    assert len(entries) == len(names)


@pytest.mark.parametrize("action", [COMPOSITE, PYTHON_ACTION], ids=lambda p: p.parent.name)
def test_the_composite_actions_match_githubs_action_schema(action: Path) -> None:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "github-actions.json").read_text())
    doc = load(action)
    assert [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)] == []
    for step in doc["runs"]["steps"]:
        assert set(step["with"]) <= ACTION_INPUTS[major(step["uses"])], step


def test_every_job_that_runs_setup_restores_pythons_and_uvs_caches_first() -> None:
    """setup installs the packages with uv from ~/.cache/uv; setup-python's pip cache alone left
    that directory empty on every run."""
    jobs = [(wf, job_id, job) for wf, doc in workflows().items()
            for job_id, job in doc["jobs"].items() if setup_runs(job)]
    assert len(jobs) >= 6
    for wf, job_id, job in jobs:
        uses = [str(s.get("uses", "")) for s in steps(job)]
        runs = [str(s.get("run", "")) for s in steps(job)]
        first_setup = next(i for i, r in enumerate(runs) if "scripts/setup" in r)
        assert "./.github/actions/python" in uses[:first_setup], f"{wf}:{job_id}"
        assert not any(u.startswith("actions/setup-python") for u in uses), f"{wf}:{job_id}"
    (uv,) = [s for s in load(PYTHON_ACTION)["runs"]["steps"]
             if s["with"].get("path") == "~/.cache/uv"]
    assert "hashFiles('pyproject.toml', 'scripts/setup')" in uv["with"]["key"]
    assert "UV_VERSION=" in (ROOT / "scripts" / "setup").read_text()
    assert "uv pip install" in (ROOT / "scripts" / "setup").read_text()


def test_jobs_that_need_go_tools_restore_them_before_setup() -> None:
    for name, job_id in (("checks.yml", "checks"), ("full-suite.yml", "full-suite")):
        job_steps = steps(jobs_of(name)[job_id])
        uses = [str(s.get("uses", "")) for s in job_steps]
        runs = [str(s.get("run", "")) for s in job_steps]
        assert uses.index("./.github/actions/go-tools") < runs.index("bash scripts/setup"), name


def test_the_full_suite_runs_on_main_nightly_and_by_hand_with_every_test() -> None:
    doc = load(WORKFLOWS / "full-suite.yml")
    assert doc["on"]["push"] == {"branches": ["main"]}
    assert len(doc["on"]["schedule"]) == 1
    assert "workflow_dispatch" in doc["on"]
    runs = [str(s.get("run", "")) for s in steps(doc["jobs"]["full-suite"])]
    # No -m filter: integration tests included, with the real tools setup builds.
    assert runs[-2:] == ["bash scripts/setup", "bash scripts/test"]


def test_actions_are_given_only_inputs_they_declare() -> None:
    for wf_name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            for step in steps(job):
                uses = step.get("uses")
                if not uses or uses.startswith("./"):
                    continue
                assert major(uses) in ACTION_INPUTS, f"{wf_name}:{job_id}: no inputs for {uses}"
                unknown = set(step.get("with") or {}) - ACTION_INPUTS[major(uses)]
                assert not unknown, f"{wf_name}:{job_id}: {uses} has no input {sorted(unknown)}"


# The runner below loads the wasm build and prints every finding for every file as JSON.
