"""Tags on golden-image AMIs: builds tag them, promotions and pruning find them by these."""

from __future__ import annotations

ROLE_TAG = "role"
LAYER_TAG = "layer"
CONTENT_HASH_TAG = "content-hash"
# build.py never prunes an AMI with a tag key starting so; each stack tags the AMI it runs.
IN_USE_TAG_PREFIX = "in-use-by:"


def in_use_tag(stack: str) -> str:
    return f"{IN_USE_TAG_PREFIX}{stack}"
