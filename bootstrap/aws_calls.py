"""Small helpers around boto3 answers, shared by the bootstrap's steps."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class Clients:
    s3: Any
    kms: Any
    iam: Any
    sts: Any


@dataclass(frozen=True)
class Target:
    region: str
    bucket: str
    repo: str


def code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def absent(call: Callable[[], Any], *codes: str) -> Any | None:
    """The call's answer, or None if AWS says the thing does not exist."""
    try:
        return call()
    except ClientError as err:
        if code(err) in codes:
            return None
        raise


def as_json(value: Any) -> Any:
    """A policy document as data: IAM returns it decoded (or URL-encoded JSON), S3 as text."""
    if isinstance(value, str):
        text = value if value.lstrip().startswith("{") else unquote(value)
        try:
            return json.loads(text)
        except ValueError:
            return None
    return value
