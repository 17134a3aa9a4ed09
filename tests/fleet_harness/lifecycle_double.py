"""An Auto Scaling group's instance lifecycle, as AWS documents it, for the fleet harness.

moto models neither lifecycle actions nor warm pools, so this double holds the group's state and
answers the calls the node scripts make (through query_api.py). Every rule cites its source:

[hooks]   https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html
[warm]    https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html
[imds]    https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html
[complete] https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html
[heartbeat] https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html
[states]  AutoScalingInstanceDetails.LifecycleState, Amazon EC2 Auto Scaling API Reference
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from contracts import lifecycle

LAUNCHING, TERMINATING = lifecycle.LAUNCH_TRANSITION, lifecycle.TERMINATE_TRANSITION


class NoActiveAction(Exception):
    """[complete]/[heartbeat]: ValidationError when no lifecycle action waits for the instance."""


@dataclass
class Action:
    hook: str
    transition: str
    active_from: float
    """Before this moment AWS has not put the instance in the wait state yet; a completion that
    arrives too early is refused with "No active Lifecycle Action found" [complete]."""
    result: str | None = None


@dataclass
class Instance:
    instance_id: str
    state: str
    """[states]: Pending:Wait, InService, Warmed:Pending:Wait, Terminating:Wait, ..."""
    target: str
    """[imds]: what autoscaling/target-lifecycle-state reads inside the instance."""
    action: Action | None = None
    history: list[str] = field(default_factory=list)


@dataclass
class Call:
    api: str
    instance_id: str
    detail: str
    at: float
    wall: float = field(default_factory=time.time)
    """When, on the wall clock the nodes share (the app reports its start time on it)."""


class LifecycleDouble:
    def __init__(self, group: str, launch_hook: str, terminate_hook: str) -> None:
        self.group = group
        self.hooks = {LAUNCHING: launch_hook, TERMINATING: terminate_hook}
        self.instances: dict[str, Instance] = {}
        self.calls: list[Call] = []
        self.lock = threading.Lock()

    def _set(self, inst: Instance, state: str, target: str | None = None) -> None:
        inst.state = state
        if target is not None:
            inst.target = target
        inst.history.append(state)

    def _wait(self, inst: Instance, state: str, transition: str, delay: float) -> None:
        self._set(inst, state)
        inst.action = Action(self.hooks[transition], transition, time.monotonic() + delay)

    # --- what the group does (driven by the tests) ----------------------------------------------

    def launch(self, instance_id: str, *, into_pool: bool = False, delay: float = 0.0) -> None:
        """[hooks] step 2: a launch pauses in Pending:Wait. [warm]: launched into the pool, the
        instance pauses in Warmed:Pending:Wait first; its steady target is Warmed:Stopped."""
        with self.lock:
            target = "Warmed:Stopped" if into_pool else "InService"
            inst = Instance(instance_id, "Pending", target, history=["Pending"])
            if into_pool:
                inst.state, inst.history = "Warmed:Pending", ["Warmed:Pending"]
            self.instances[instance_id] = inst
            self._wait(inst, "Warmed:Pending:Wait" if into_pool else "Pending:Wait", LAUNCHING,
                       delay)

    def leave_pool(self, instance_id: str, *, delay: float = 0.0) -> None:
        """[warm]: "the instance pauses again in Pending:Wait when it leaves the pool" (it is
        started first; the harness boots the stopped node)."""
        with self.lock:
            inst = self.instances[instance_id]
            inst.target = "InService"
            self._wait(inst, "Pending:Wait", LAUNCHING, delay)

    def scale_in(self, instance_id: str, *, to_pool: bool = False, delay: float = 0.0) -> None:
        """[hooks] step 4: the group first deregisters the instance from its load balancer and
        waits for draining; only then [hooks] step 5 pauses it in Terminating:Wait.
        [warm]: with an instance reuse policy the instance goes back to the pool instead and the
        terminate hook pauses it in Warmed:Pending:Wait."""
        with self.lock:
            inst = self.instances[instance_id]
            self.calls.append(Call("AutoScaling:DeregisterFromLoadBalancer", instance_id,
                                   "deregistered and drained by the group", time.monotonic()))
            if to_pool:
                inst.target = "Warmed:Stopped"
                self._wait(inst, "Warmed:Pending:Wait", TERMINATING, delay)
            else:
                inst.target = "Terminated"
                self._set(inst, "Terminating")
                self._wait(inst, "Terminating:Wait", TERMINATING, delay)

    # --- what the instance calls ------------------------------------------------------------------

    def _active(self, instance_id: str, hook: str, group: str) -> tuple[Instance, Action]:
        inst = self.instances.get(instance_id)
        action = inst.action if inst else None
        if (inst is None or action is None or action.hook != hook or group != self.group
                or time.monotonic() < action.active_from):
            raise NoActiveAction(f"No active Lifecycle Action found with instance ID "
                                 f"{instance_id}")
        return inst, action

    def complete(self, group: str, hook: str, instance_id: str, result: str) -> None:
        """[complete]: CONTINUE or ABANDON ends the wait; the instance moves on."""
        with self.lock:
            self.calls.append(Call("CompleteLifecycleAction", instance_id, f"{hook} {result}",
                                   time.monotonic()))
            inst, action = self._active(instance_id, hook, group)
            action.result = result
            inst.action = None
            if inst.state == "Pending:Wait":
                # [hooks]: ABANDON on launch terminates the instance.
                self._set(inst, "Pending:Proceed")
                self._set(inst, "InService" if result == "CONTINUE" else "Terminating",
                          "InService" if result == "CONTINUE" else "Terminated")
            elif inst.state == "Warmed:Pending:Wait":
                self._set(inst, "Warmed:Pending:Proceed")
                self._set(inst, "Warmed:Stopped")
            elif inst.state == "Terminating:Wait":
                self._set(inst, "Terminating:Proceed")
                self._set(inst, "Terminated")

    def heartbeat(self, group: str, hook: str, instance_id: str) -> None:
        """[heartbeat]: restarts the timeout of an action that is waiting, else ValidationError."""
        with self.lock:
            self.calls.append(Call("RecordLifecycleActionHeartbeat", instance_id, hook,
                                   time.monotonic()))
            self._active(instance_id, hook, group)

    def record(self, api: str, instance_id: str, detail: str) -> None:
        with self.lock:
            self.calls.append(Call(api, instance_id, detail, time.monotonic()))

    def calls_of(self, api: str, instance_id: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.api == api and c.instance_id == instance_id]
