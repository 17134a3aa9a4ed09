"""tree_paths: the files under a folder of the image tree, sorted, leftovers left out."""

from __future__ import annotations

from pathlib import Path

from components.image.inputs import tree_paths


def test_tree_paths_lists_files_sorted_and_leaves_out_hidden_files_and_leftovers(
        tmp_path: Path) -> None:
    for rel in ["image/b.yml", "image/a/x.j2", "image/a/z/deep.sh", "image/.hidden",
                "image/a/.git/config", "image/roles/r.pyc", "image/roles/r.retry",
                "image/roles/.r.swp", "image/roles/r~", "image/__pycache__/m.py",
                "image/packer_cache/iso", "image/roles/m.py", "other/c.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    assert tree_paths("image", tmp_path) == [
        "image/a/x.j2", "image/a/z/deep.sh", "image/b.yml", "image/roles/m.py"]


def test_tree_paths_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert tree_paths("image", tmp_path) == []
