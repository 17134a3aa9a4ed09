"""Bad stack files, echoed secrets and interrupts: every entry point answers in one line.

The CLIs run for real as subprocesses (`python -m plan`, `python -m deploy`) in a copy of the
repository whose stack file the test breaks; nothing reaches AWS or Consul (each case fails
before any network call).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from components.settings import SettingsError, parse_settings
from contracts.stack_file import StackFileError, load_stack_config
from mock_engine import stack_config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-plaintext-s3cr3t"


def alias_bomb() -> str:
    """~600 bytes of YAML that expand to 9**9 strings."""
    lines = ["config:", "  a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


BAD_STACK_FILES: dict[str, tuple[bytes, str]] = {
    "malformed-yaml": (b"config:\n  webtier:app: [unclosed\n", "is not valid YAML"),
    "top-level-list": (b"- config\n- webtier\n", "the top level is a list"),
    "config-is-text": (b"config: hello\n", "`config` is a str"),
    "binary": (bytes(range(256)) * 4, "is not UTF-8 text"),
    "nul-bytes": (b"config:\n  aws:region: \x00\x00\n", "NUL bytes"),
    "alias-bomb": (alias_bomb().encode(), "alias bomb"),
    "too-large": (b"config: {}\n" + b"#" * 1_100_000 + b"\n", "byte limit"),
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the program, plan and deploy CLIs whose stack files a test may break."""
    dest = tmp_path_factory.mktemp("tree")
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        if name.startswith(("tests/", "venv", "node_modules")) or not (ROOT / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


def run_cli(tree: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "CONSUL_", "WEBTIER_"))}
    return subprocess.run([sys.executable, *args], cwd=tree, capture_output=True, text=True,
                          env={**clean, "PYTHONPATH": str(tree), **(env or {})}, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int,
                          *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- the one stack-file reader ------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_STACK_FILES))
def test_stack_file_reader_refuses_an_unusable_file_in_one_line(tmp_path: Path,
                                                                case: str) -> None:
    content, needle = BAD_STACK_FILES[case]
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_bytes(content)
    with pytest.raises(StackFileError) as caught:
        load_stack_config(path)
    message = str(caught.value)
    assert message.startswith("Pulumi.broken.yaml: ")
    assert needle in message
    assert "\n" not in message


def test_alias_bomb_is_refused_within_a_second(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bomb.yaml"
    path.write_text(alias_bomb())
    assert path.stat().st_size < 2048
    started = time.monotonic()
    with pytest.raises(StackFileError, match="alias bomb"):
        load_stack_config(path)
    assert time.monotonic() - started < 1.0


def test_many_aliases_are_refused_before_they_are_expanded(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.aliases.yaml"
    path.write_text("config:\n  x: &x 1\n  y: [" + ", ".join(["*x"] * 101) + "]\n")
    with pytest.raises(StackFileError, match="more than 100 YAML aliases"):
        load_stack_config(path)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_committed_stack_files_pass_the_reader(stack: str) -> None:
    assert load_stack_config(ROOT / f"Pulumi.{stack}.yaml")["aws:region"]


def test_every_stack_file_reader_uses_the_bounded_loader() -> None:
    # One reader: a yaml.safe_load of a stack file elsewhere would bring the bomb back.
    for folder in ("components", "mock_engine", "plan", "deploy", "policy"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "yaml.safe_load(" not in text, path
            assert "yaml.load(" not in text, path


# --- the CLIs, as subprocesses ------------------------------------------------------------------


@pytest.fixture
def broken(tree: Path) -> Callable[[bytes], str]:
    """Write a stack file named `broken` into the tree; returns the stack name."""
    made: list[Path] = []

    def write(content: bytes) -> str:
        path = tree / "Pulumi.broken.yaml"
        path.write_bytes(content)
        made.append(path)
        return "broken"

    yield write  # type: ignore[misc]
    for path in made:
        path.unlink(missing_ok=True)


@pytest.mark.integration
@pytest.mark.parametrize("case", ["malformed-yaml", "top-level-list", "binary", "alias-bomb"])
def test_plan_real_cli_names_an_unusable_stack_file_in_one_line(
        tree: Path, broken: Callable[[bytes], str], case: str) -> None:
    content, needle = BAD_STACK_FILES[case]
    result = run_cli(tree, "-m", "plan", broken(content))
    assert_one_line_error(result, 2, "Pulumi.broken.yaml", needle)


@pytest.mark.integration
@pytest.mark.parametrize("case", ["malformed-yaml", "top-level-list", "binary", "alias-bomb"])
def test_deploy_real_cli_names_an_unusable_stack_file_in_one_line(
        tree: Path, broken: Callable[[bytes], str], case: str) -> None:
    content, needle = BAD_STACK_FILES[case]
    stack = broken(content)
    result = run_cli(tree, "-m", "deploy", "status", "--stack", stack, "--bucket", "acme-rel")
    assert_one_line_error(result, 1, "Pulumi.broken.yaml", needle)


def staging_with(extra: str) -> bytes:
    return ((ROOT / "Pulumi.staging.yaml").read_text() + extra).encode()


@pytest.mark.integration
def test_plan_real_cli_refuses_a_plaintext_secret_in_the_stack_file_without_showing_it(
        tree: Path, broken: Callable[[bytes], str]) -> None:
    result = run_cli(tree, "-m", "plan", broken(staging_with(
        f"  webtier:consulAgentToken: {SECRET}\n")))
    assert_one_line_error(result, 2, "webtier:consulAgentToken", "plaintext")
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.integration
@pytest.mark.parametrize(("extra", "key"), [
    (f"  webtier:consulAgentTokn: {SECRET}\n", "webtier:consulAgentTokn"),
    ("  webtier:consul:\n    datacenter: staging\n    clusterSecurityGroupId: "
     f"sg-0a1b2c3d4e5f60731\n    agentToken: {SECRET}\n", "webtier:consul.agentToken"),
])
def test_plan_real_cli_names_a_mistyped_key_but_never_its_value(
        tree: Path, broken: Callable[[bytes], str], extra: str, key: str) -> None:
    text = staging_with("").decode()
    if "webtier:consul:" in extra:  # replace the section rather than repeat the key
        start = text.index("  webtier:consul:")
        end = text.index("  webtier:kv:")
        text = text[:start] + extra + text[end:]
    else:
        text += extra
    result = run_cli(tree, "-m", "plan", broken(text.encode()))
    assert result.returncode == 2, result.stderr
    assert key in result.stderr
    assert "not a known setting" in result.stderr
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.integration
@pytest.mark.parametrize(("argv", "needle"), [
    (["--consul-addr", "http://[::1"], "--consul-addr"),
    (["--consul-addr", "127.0.0.1:99999"], "--consul-addr"),
    (["--consul-addr", "consul:port"], "--consul-addr"),
    (["--consul-addr", ":99999"], "--consul-addr"),
    (["--s3-endpoint", "not a url"], "--s3-endpoint"),
    (["--s3-endpoint", "http://[::1"], "--s3-endpoint"),
])
def test_deploy_real_cli_names_a_bad_address_in_one_line(tree: Path, argv: list[str],
                                                         needle: str) -> None:
    result = run_cli(tree, "-m", "deploy", "status", "--stack", "staging", "--bucket", "acme-rel",
                     *argv)
    assert_one_line_error(result, 1, needle, argv[1])


@pytest.mark.integration
@pytest.mark.parametrize("value", ["abc", "0", "true", "2.5"])
def test_deploy_real_cli_names_a_bad_keep_releases_in_one_line(
        tree: Path, broken: Callable[[bytes], str], value: str) -> None:
    text = staging_with("").decode().replace("keepReleases: 5", f"keepReleases: {value}")
    result = run_cli(tree, "-m", "deploy", "status", "--stack", broken(text.encode()),
                     "--bucket", "acme-rel")
    assert_one_line_error(result, 1, "webtier:release.keepReleases", value)


@pytest.mark.integration
@pytest.mark.parametrize("argv", [["-m", "plan", "staging"],
                                  ["-m", "deploy", "status", "--stack", "staging"]])
def test_real_cli_interrupted_exits_130_without_a_traceback(tree: Path,
                                                            argv: list[str]) -> None:
    # The signal lands while the CLI imports the SDKs or works; either way: 130, one line.
    # A Consul that accepts the connection and never answers keeps `status` busy until then.
    silent = socket.create_server(("127.0.0.1", 0))
    clean = {k: v for k, v in os.environ.items()
             if not k.lower().startswith(("aws_", "consul_", "webtier_", "http_", "https_"))}
    env = {**clean, "PYTHONPATH": str(tree), "NO_PROXY": "*", "WEBTIER_RELEASE_BUCKET": "acme-rel",
           "CONSUL_HTTP_ADDR": f"http://127.0.0.1:{silent.getsockname()[1]}"}
    for delay in (1.0, 0.6, 0.3):  # later is better (it is working), but it must still run
        proc = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        running = proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        if running:
            break
    silent.close()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stderr, stderr


@pytest.mark.integration
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_plan_policy_real_cli_names_an_unusable_pack_config_in_one_line(
        tree: Path, content: bytes) -> None:
    path = tree / "policy" / "staging.json"
    saved = path.read_bytes() if path.exists() else None
    path.write_bytes(content)
    try:
        result = run_cli(tree, "-m", "plan", "staging", "--policy")
    finally:
        if saved is None:
            path.unlink()
        else:
            path.write_bytes(saved)
    assert_one_line_error(result, 2, "policy/staging.json")


# --- settings: unknown keys and plaintext secrets, in process -------------------------------------


def test_unknown_top_level_key_error_never_shows_its_value() -> None:
    config, secrets = stack_config("staging",
                                   overrides={"webtier:consulAgentTokn": SECRET})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    assert "webtier:consulAgentTokn is not a known setting" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_unknown_field_inside_a_section_error_never_shows_its_value() -> None:
    config, secrets = stack_config("staging", overrides={"webtier:fleet.agentTokn": SECRET})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    assert "webtier:fleet.agentTokn is not a known setting" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_up_refuses_a_plaintext_secret_as_the_plan_does() -> None:
    # Under `pulumi up` a value set without --secret is not among the secret keys.
    config, secrets = stack_config("staging", overrides={"webtier:consulAgentToken": SECRET})
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, [k for k in secrets if "AgentToken" not in k])
    assert "webtier:consulAgentToken" in str(caught.value)
    assert "plaintext" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_plan_config_keeps_a_plaintext_stack_file_secret_unmarked(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    (tmp_path / "Pulumi.staging.yaml").write_text(
        text + f"  webtier:consulAgentToken: {SECRET}\n"
               "  webtier:consulTemplateToken:\n    secure: v1:AAAA\n")
    config, secrets = stack_config("staging", root=tmp_path)
    assert "webtier:consulAgentToken" not in secrets
    # An encrypted value is what the plan replaces with its placeholder.
    assert "webtier:consulTemplateToken" in secrets
    with pytest.raises(SettingsError, match=r"consulAgentToken.*plaintext"):
        parse_settings("staging", config, secrets)


def test_plaintext_kv_secrets_are_refused_and_encrypted_ones_replaced(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    plain = text + f"  webtier:kvSecrets:\n    database/master-password: {SECRET}\n"
    (tmp_path / "Pulumi.staging.yaml").write_text(plain)
    config, secrets = stack_config("staging", root=tmp_path)
    with pytest.raises(SettingsError) as caught:
        parse_settings("staging", config, secrets)
    assert "webtier:kvSecrets" in str(caught.value)
    assert SECRET not in str(caught.value)
    encrypted = text + "  webtier:kvSecrets:\n    database/master-password:\n      secure: v1:A\n"
    (tmp_path / "Pulumi.staging.yaml").write_text(encrypted)
    config, secrets = stack_config("staging", root=tmp_path)
    assert parse_settings("staging", config, secrets).secrets.kv_values


@pytest.mark.integration
@pytest.mark.parametrize("argv", [
    ["-m", "plan"], ["-m", "deploy"], ["image/build.py"],
    ["image/ansible/roles/stretcher/files/release-pull"],
    ["image/ansible/roles/stretcher/files/release-switch"],
])
def test_every_cli_documents_its_exit_codes_in_help(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, *argv, "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "exit codes" in result.stdout.lower()
    assert "130" in result.stdout
