"""The Consul side of a canary: the `canary` lock record (CAS) and the event fired to some nodes.

The record is created with CAS index 0, so of two pushes only one gets it: the other is refused
and told who holds it. It is deleted with CAS on the index it was read at.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.consul.client import ConsulClient, ConsulError, ConsulHttpError
from contracts.consul_event import node_filter
from contracts.release_layout import deploy_keys
from deploy.canary import CanaryError, CanaryRecord
from deploy.pointer import PointerError, check_event_fits


class CanaryLock:
    def __init__(self, client: ConsulClient, kv_prefix: str, app: str) -> None:
        self._client = client
        self.key = deploy_keys(kv_prefix, app).canary

    def read(self) -> tuple[CanaryRecord | None, int]:
        try:
            item = self._client.read_key(self.key)
        except ConsulError as e:
            raise CanaryError(f"could not read {self.key} from Consul: {e}") from e
        if item is None:
            return None, 0
        try:
            return CanaryRecord.from_json((item.get("Value") or b"").decode()), \
                int(item["ModifyIndex"])
        except (ValueError, TypeError, KeyError) as e:
            raise CanaryError(f"{self.key} does not hold a canary record ({e}); delete the key "
                              "once no push is running") from e

    def take(self, record: CanaryRecord) -> int:
        """Create the record; CanaryError naming the holder if a canary is already in flight."""
        try:
            ok = self._client.put_key(self.key, record.to_json(), cas=0)
        except ConsulHttpError as e:
            if e.status != 403:
                raise CanaryError(f"could not write {self.key} to Consul: {e}") from e
            raise CanaryError(f"Consul refused to write {self.key}: the token needs write on "
                              f"it ({e})") from e
        except ConsulError as e:
            raise CanaryError(f"could not write {self.key} to Consul: {e}") from e
        held, index = self.read()
        if not ok or held is None or held != record:
            who = f"{held.release} by {held.by} since {held.at}" if held else "another push"
            raise CanaryError(f"a canary is already in flight ({who}); see `python -m deploy "
                              "status`, then finish it with `push --resume` or clear it with "
                              "`push --abort`")
        return index

    def release(self, index: int) -> None:
        try:
            self._client.delete_key(self.key, cas=index)
        except ConsulError as e:
            raise CanaryError(f"could not delete {self.key} (delete it by hand once no push "
                              f"runs): {e}") from e


def fire_to(client: ConsulClient, event: str, manifest: str, nodes: Sequence[str]) -> str:
    """Fire the stack's deploy ``event`` carrying ``manifest`` to exactly ``nodes`` (a
    NodeFilter)."""
    only = node_filter(nodes)
    try:
        # `push --canary` checked the largest canary up front; this guards a resumed one.
        check_event_fits(event, manifest, only)
    except PointerError as e:
        raise CanaryError(f"--canary: {e}") from None
    try:
        answer = client.fire_event(event, manifest, only)
    except ConsulHttpError as e:
        if e.status != 403:
            raise CanaryError(f"could not fire event '{event}' to {', '.join(nodes)}: "
                              f"{e}") from e
        raise CanaryError(f"Consul refused to fire event '{event}': the token needs "
                          f"`event \"{event}\" {{ policy = \"write\" }}` ({e})") from e
    except ConsulError as e:
        raise CanaryError(f"could not fire event '{event}' to {', '.join(nodes)}: "
                          f"{e}") from e
    return str(answer.get("ID", ""))
