"""Watching one instance refresh, the one the gate started, to its end, and what its end means.

The loop takes the clock, the sleep and the Auto Scaling client as arguments, so every path runs
in tests against the refresh double (tests/fleet/refresh_double.py). It only ever looks at the
refresh id it is given: a refresh it did not start (by hand, or an earlier one) is never taken
for this rollout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components.fleet.aws_causes import cause

SUCCEEDED = frozenset({"Successful"})
FAILED = frozenset({"Failed", "Cancelled", "RollbackFailed", "RollbackSuccessful"})
RUNNING = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})


class RolloutFailed(Exception):
    """The refresh ended badly or did not end in time; the message names it and why."""


def progress(refresh: Mapping[str, Any]) -> str:
    return (f"instance refresh {refresh['InstanceRefreshId']}: {refresh['Status']}, "
            f"{refresh.get('PercentageComplete', 0)}% done, "
            f"{refresh.get('InstancesToUpdate', '?')} instance(s) to update")


def failure(refresh: Mapping[str, Any], group: str) -> str:
    reason = (refresh.get("StatusReason") or "AWS gave no reason").strip().splitlines()[0]
    status = refresh["Status"]
    what = {
        "RollbackSuccessful": f"{group} is back on its previous launch settings",
        "RollbackFailed": f"{group} may run a mix of old and new instances: start a refresh "
                          "by hand or fix and run `pulumi up`",
        "Failed": f"{group} keeps its previous launch settings; instances already replaced "
                  "stay on the new ones until the next refresh",
        "Cancelled": f"{group} keeps its previous launch settings",
    }.get(status, "")
    return (f"instance refresh {refresh['InstanceRefreshId']} ended {status}: {reason}"
            + (f"; {what}" if what else ""))


@dataclass
class Watch:
    client: Any
    """A boto3 Auto Scaling client."""
    log: Callable[[str], None]
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    timeout: int
    poll: int

    def wait(self, group: str, refresh_id: str) -> None:
        """Return when the refresh succeeded; raise RolloutFailed when it did not, or did not
        end within the timeout (it keeps running: the next `up` resumes waiting on it)."""
        deadline = self.clock() + self.timeout
        refresh = self._describe(group, refresh_id)
        last = ""
        while refresh["Status"] in RUNNING:
            line = progress(refresh)
            if line != last:
                self.log(line)
                last = line
            if self.clock() >= deadline:
                raise RolloutFailed(
                    f"instance refresh {refresh_id} on {group} is still {refresh['Status']} "
                    f"after {self.timeout}s (webtier:rollout.gateTimeout); it keeps running in "
                    "AWS and the next `pulumi up` resumes waiting on it")
            self.sleep(self.poll)
            refresh = self._describe(group, refresh_id)
        if refresh["Status"] not in SUCCEEDED:
            raise RolloutFailed(failure(refresh, group))
        self.log(progress(refresh))

    def _describe(self, group: str, refresh_id: str) -> Mapping[str, Any]:
        try:
            answer = self.client.describe_instance_refreshes(AutoScalingGroupName=group,
                                                             InstanceRefreshIds=[refresh_id])
        except Exception as err:  # cause() re-raises what is not AWS's
            raise RolloutFailed(cause(err, group, f"watching instance refresh {refresh_id}")
                                ) from None
        found = answer.get("InstanceRefreshes")
        if not found:
            raise RolloutFailed(f"instance refresh {refresh_id} on {group} disappeared")
        return dict(found[0])
