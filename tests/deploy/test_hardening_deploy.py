"""Deploys: symlinks that leave the release are refused at push; an interrupted push resumes.

The link checks are pure and run the real CLI as a subprocess (it refuses before any network);
the resume runs the real push against a moto server (S3) and the Consul HTTP double.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.artifacts import ReleaseError, check_links
from deploy.cli import main
from deploy.errors import DeployError
from deploy.publish import push
from deploy.s3 import UploadError
from tests.deploy.test_deploy import Env, env, refuse  # noqa: F401 - the moto + Consul agent fixture
from tests.real_consul import ConsulAgent

ROOT = Path(__file__).resolve().parents[2]


def release(tmp_path: Path) -> Path:
    path = tmp_path / "release"
    (path / "static").mkdir(parents=True)
    (path / "app.txt").write_text("v1")
    (path / "static" / "logo.txt").write_text("logo")
    return path


@pytest.mark.parametrize(("name", "target"), [
    ("passwd", "/etc/passwd"),
    ("up", "../../.."),
    ("static/sibling", "../../other-release/app.txt"),
    ("static/loop-out", "../static/../.."),
])
def test_symlink_out_of_the_release_is_refused_naming_the_file(tmp_path: Path, name: str,
                                                                target: str) -> None:
    path = release(tmp_path)
    os.symlink(target, path / name)
    with pytest.raises(ReleaseError) as caught:
        check_links(path)
    assert repr(name) in str(caught.value)
    assert repr(target) in str(caught.value)


def test_a_chain_of_links_cannot_climb_out(tmp_path: Path) -> None:
    path = release(tmp_path)
    os.symlink(".", path / "here")
    os.symlink("here/here/../..", path / "sneaky")  # lexically inside, really outside
    with pytest.raises(ReleaseError, match="'sneaky'"):
        check_links(path)


@pytest.mark.parametrize(("name", "target"), [("current.txt", "app.txt"),
                                              ("static/app.txt", "../app.txt"),
                                              ("assets", "static")])
def test_symlinks_inside_the_release_are_kept(tmp_path: Path, name: str, target: str) -> None:
    path = release(tmp_path)
    os.symlink(target, path / name)
    check_links(path)


@pytest.mark.integration
def test_push_real_cli_refuses_a_link_to_etc_passwd_before_touching_s3_or_consul(
        tmp_path: Path) -> None:
    path = release(tmp_path)
    os.symlink("/etc/passwd", path / "static" / "passwd")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CONSUL_"))}
    result = subprocess.run(
        [sys.executable, "-m", "deploy", "push", "--stack", "staging", "--bucket", "acme-rel",
         "--consul-addr", "127.0.0.1:1", str(path)],
        cwd=ROOT, capture_output=True, text=True, env=clean, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'static/passwd'" in result.stderr
    assert "/etc/passwd" in result.stderr


def die_before_the_manifest(env: Env, path: Path) -> None:  # noqa: F811
    """A push of r1 that stored its archive, then died: S3 refused the manifest's PutObject."""
    handler = refuse("PutObject")
    env.s3.meta.events.register("before-send.s3.PutObject", handler)
    with pytest.raises(UploadError):
        push(env.target, path, s3=env.s3, pointers=env.pointers(), release_id="r1",
                    err=io.StringIO())
    env.s3.meta.events.unregister("before-send.s3.PutObject", handler)


@pytest.mark.integration
def test_push_against_moto_that_died_before_the_manifest_resumes_with_the_same_files(
        env: Env) -> None:  # noqa: F811
    path = release(env.tmp)
    die_before_the_manifest(env, path)
    assert env.stored() == [f"releases/{env.target.app}/r1/{env.target.app}.tar.gz"]
    err = io.StringIO()
    pushed = push(env.target, path, s3=env.s3, pointers=env.pointers(),
                         release_id="r1", err=err)
    assert "resuming an interrupted push" in err.getvalue()
    assert pushed.release.release == "r1"
    assert len(env.stored()) == 2
    assert env.consul.value("webapp/staging/deploy/webapp/current") == pushed.release.manifest


@pytest.mark.integration
def test_push_against_moto_with_other_files_under_a_dead_push_id_says_how_to_go_on(
        env: Env) -> None:  # noqa: F811
    path = release(env.tmp)
    die_before_the_manifest(env, path)
    (path / "app.txt").write_text("v2, different")
    with pytest.raises(DeployError) as caught:
        push(env.target, path, s3=env.s3, pointers=env.pointers(), release_id="r1",
                    err=io.StringIO())
    message = str(caught.value)
    assert "--release-id" in message
    assert "aws s3 rm" in message
    assert env.consul.value("webapp/staging/deploy/webapp/current") is None


@pytest.mark.parametrize("key", ["current", "previous"])
def test_status_names_a_pointer_that_is_not_utf8(key: str, consul_agent: ConsulAgent) -> None:
    prefix = consul_agent.fresh_prefix()
    consul_agent.api("PUT", f"/v1/kv/{prefix}/deploy/webapp/{key}", data=b"\xff\xfes3://x")
    err = io.StringIO()
    try:
        code = main(["status", "--stack", "staging", "--bucket", "acme-rel", "--kv-prefix", prefix,
                     "--consul-addr", consul_agent.address],
                    env={"CONSUL_HTTP_TOKEN": consul_agent.management_token},
                    out=io.StringIO(), err=err)
    finally:
        consul_agent.wipe(prefix)
    assert code == 1
    assert len(err.getvalue().strip().splitlines()) == 1
    assert f"deploy/webapp/{key}" in err.getvalue()
    assert "not UTF-8" in err.getvalue()
