"""webtier:kv: the application settings this program writes to Consul KV."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from components.settings.reader import ConfigObject
from contracts.names import default_kv_prefix
from contracts.release_layout import DEPLOY_FOLDER

KV_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*(?:/[a-z0-9][a-z0-9_.-]*)*$")
# Consul's gossip key is 32 random bytes in base64: a string of this shape is a secret.
GOSSIP_KEY_SHAPE = re.compile(r"^[A-Za-z0-9+/]{43}=$")
# The kv-writer token is denied the deploy folder, so that it cannot move the deploy pointer
# (consul_tokens/model.py): a value there could never be written.
DEPLOY_FOLDER_PROBLEM = ("is under deploy/, the deploy tool's folder (the pointer lives there and "
                         "the KV token may not write it): put it in another folder")
_SECRET_NAME = re.compile(r"(password|passwd|secret|token|private[_-]?key)")


@dataclass(frozen=True)
class KvSettings:
    prefix: str
    values: Mapping[str, str]
    secret_keys: frozenset[str]
    environment_specific: frozenset[str]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.values) | self.secret_keys


def looks_secret(key: str, value: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return bool(_SECRET_NAME.search(name)) or bool(GOSSIP_KEY_SHAPE.match(value)) \
        or value.startswith("-----BEGIN")


def parse_kv(obj: ConfigObject, stack: str, app: str) -> KvSettings:
    prefix = obj.text("prefix", default_kv_prefix(app, stack), KV_KEY, "a KV path like app/staging")
    values: dict[str, str] = {}
    for key, value in obj.mapping("values").items():
        where = f"{obj.key}.values.{key}"
        if not KV_KEY.match(key):
            obj.problems.add(where, key, "key must be lowercase path segments like database/host")
        elif key.split("/", 1)[0] == DEPLOY_FOLDER:
            obj.problems.add(where, key, DEPLOY_FOLDER_PROBLEM)
        elif not isinstance(value, str | int | float | bool) or value is None:
            obj.problems.add(where, value, "must be a string, number or boolean")
        elif isinstance(value, str) and looks_secret(key, value):
            obj.problems.add(where, "[redacted]",
                             "looks like a secret: move it to kvSecrets with "
                             f"`pulumi config set --secret --path 'kvSecrets[\"{key}\"]' … "
                             f"--stack {stack}` and list it in kv.secretKeys")
        else:
            values[key] = json.dumps(value) if isinstance(value, bool) else str(value)
    secret_keys: set[str] = set()
    for i, key in enumerate(obj.items("secretKeys")):
        if not isinstance(key, str) or not KV_KEY.match(key):
            obj.problems.add(f"{obj.key}.secretKeys[{i}]", key, "must be a KV key like db/password")
        elif key.split("/", 1)[0] == DEPLOY_FOLDER:
            obj.problems.add(f"{obj.key}.secretKeys[{i}]", key, DEPLOY_FOLDER_PROBLEM)
        elif key in values:
            obj.problems.add(f"{obj.key}.secretKeys[{i}]", key,
                             "is also in kv.values: a key is either plain or secret")
        else:
            secret_keys.add(key)
    specific = {str(k) for k in obj.items("environmentSpecific")}
    obj.done()
    return KvSettings(prefix, values, frozenset(secret_keys), frozenset(specific))
