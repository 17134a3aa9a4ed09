"""release-switch, the real script, in a temp dir: activate, restart, roll back a failed restart,
survive being killed between its steps, prune and abandon (the node sandbox: node_sandbox.py)."""

from __future__ import annotations

import os

import pytest

from tests.instance.node_sandbox import RELEASE_SWITCH, Node

# --- release-switch ----------------------------------------------------------------------------

@pytest.mark.integration
def test_switch_real_script_activate_points_current_at_release_and_restarts(node: Node) -> None:
    node.make_release("r1")
    result = node.run(RELEASE_SWITCH, "activate", "r1")
    assert result.returncode == 0, result.stderr
    assert node.current_release() == "r1"
    assert node.restarts() == ["releases/r1"]


@pytest.mark.integration
def test_switch_real_script_with_fake_systemctl_starts_an_enabled_but_stopped_app(
        node: Node) -> None:
    # An instance that booted before any release existed has app.service enabled but stopped:
    # the first deploy must start it (`restart`), which `try-restart` would not.
    del node.env["WEBTIER_RESTART_CMD"]
    node.shim("systemctl", f'echo "$@" >> {node.tmp}/systemctl\n'
                           '[ "$1" != is-enabled ] || exit 0')
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    calls = (node.tmp / "systemctl").read_text().splitlines()
    assert calls == ["is-enabled --quiet app.service", "restart app.service"]


@pytest.mark.integration
def test_switch_real_script_with_fake_systemctl_leaves_a_booting_app_unstarted(
        node: Node) -> None:
    # At boot the unit is not enabled yet: the pull must not start the app before its config.
    del node.env["WEBTIER_RESTART_CMD"]
    node.shim("systemctl", f'echo "$@" >> {node.tmp}/systemctl\n'
                           '[ "$1" != is-enabled ] || exit 1')
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    assert node.current_release() == "r1"
    assert (node.tmp / "systemctl").read_text().splitlines() == \
        ["is-enabled --quiet app.service"]


@pytest.mark.integration
def test_switch_real_script_failing_restart_puts_old_current_back(node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.fail_restarts()
    result = node.run(RELEASE_SWITCH, "activate", "r2")
    assert result.returncode != 0
    assert node.current_release() == "r1"


@pytest.mark.integration
def test_switch_real_script_failing_restart_with_no_previous_leaves_no_current(node: Node) -> None:
    node.make_release("r1")
    node.fail_restarts()
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode != 0
    assert not node.current.is_symlink()


@pytest.mark.integration
def test_switch_real_script_failing_mv_leaves_old_current_and_no_temp_link(node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.shim("mv", "exit 1")
    result = node.run(RELEASE_SWITCH, "activate", "r2")
    assert result.returncode != 0
    assert node.current_release() == "r1"
    assert list(node.root.glob(".current.tmp-*")) == []


@pytest.mark.integration
def test_switch_real_script_killed_between_ln_and_mv_leaves_old_current(node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.shim("mv", "kill -9 $PPID; sleep 5")
    result = node.run(RELEASE_SWITCH, "activate", "r2")
    assert result.returncode == -9
    assert node.current_release() == "r1"
    # The killed switch left its temp link; the next deploy's first step removes it.
    assert list(node.root.glob(".current.tmp-*")) != []
    assert node.run(RELEASE_SWITCH, "prepare", "r3").returncode == 0
    assert list(node.root.glob(".current.tmp-*")) == []


@pytest.mark.integration
def test_switch_real_script_killed_after_mv_leaves_current_on_a_complete_release(
        node: Node) -> None:
    node.make_release("r1")
    node.make_release("r2")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    node.shim("restart-and-die", "kill -9 $PPID; sleep 5")
    result = node.run(RELEASE_SWITCH, "activate", "r2",
                      extra={"WEBTIER_RESTART_CMD": str(node.bin / "restart-and-die")})
    assert result.returncode == -9
    assert node.current_release() == "r2"


@pytest.mark.integration
def test_switch_real_script_refuses_a_missing_release_and_keeps_current(node: Node) -> None:
    node.make_release("r1")
    assert node.run(RELEASE_SWITCH, "activate", "r1").returncode == 0
    assert node.run(RELEASE_SWITCH, "activate", "r9").returncode != 0
    assert node.current_release() == "r1"


@pytest.mark.integration
def test_prune_real_script_keeps_the_newest_and_always_the_current(node: Node) -> None:
    for i, name in enumerate(["r1", "r2", "r3", "r4"]):
        os.utime(node.make_release(name), (1_000_000 + i, 1_000_000 + i))
    # r1 is the oldest but current (a rollback): it stays, with the newest other one.
    os.symlink("releases/r1", node.current)
    assert node.run(RELEASE_SWITCH, "prune", "--keep", "2").returncode == 0
    assert sorted(p.name for p in (node.root / "releases").iterdir()) == ["r1", "r4"]


@pytest.mark.integration
def test_abandon_real_script_never_deletes_the_current_release(node: Node) -> None:
    node.make_release("r1")
    os.symlink("releases/r1", node.current)
    assert node.run(RELEASE_SWITCH, "abandon", "r1").returncode == 0
    assert node.current_release() == "r1"
