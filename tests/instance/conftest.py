"""The node sandbox every instance-script test starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.instance.node_sandbox import Node, make_node


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return make_node(tmp_path)
