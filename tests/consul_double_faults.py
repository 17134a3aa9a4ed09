"""Faults the Consul double injects at a chosen write transaction, to test what a client does
when Consul fails partway through a multi-transaction sync.

Write transactions (a /v1/txn holding any write verb) are counted from 1 as the double receives
them, rollbacks included. A fault fires at its transaction, or at every one from it on when
`sticky` (Consul stays down).

    faults = TxnFaults(consul)                     # installs itself on the double
    faults.add(TxnFault(at=2, kind="error"))       # the 2nd write txn answers 500, applies nothing
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tests.consul_double import DROPPED, WRITE_VERBS, ConsulDouble, RecordedRequest, Reply

FaultKind = Literal["error", "reset", "commit-then-reset", "concurrent-write"]


@dataclass
class TxnFault:
    at: int
    """The write transaction (1-based, in the order received) the fault hits."""
    kind: FaultKind
    """error: answer `status`, apply nothing. reset: close the connection unanswered, apply
    nothing. commit-then-reset: apply, then close the connection unanswered (the answer is lost).
    concurrent-write: another client writes `value` to the txn's first key just before it."""
    status: int = 500
    sticky: bool = False
    """Every write txn from `at` on (Consul stays down for writes; reads still answer)."""
    value: str | None = "written-by-someone-else"
    """What the concurrent writer writes; None: the value the txn itself writes there."""
    then_down: bool = False
    """After firing, every request fails with 500 (no leader): reads too."""
    fired: int = 0

    def hits(self, n: int) -> bool:
        return n == self.at or (self.sticky and n > self.at)


class TxnFaults:
    def __init__(self, double: ConsulDouble) -> None:
        self.double = double
        self.faults: list[TxnFault] = []
        self.write_txns = 0
        """Write transactions received so far."""
        double.faults = self

    def add(self, fault: TxnFault) -> TxnFault:
        self.faults.append(fault)
        return fault

    def around(self, req: RecordedRequest,
               answer: Callable[[RecordedRequest], Reply]) -> Reply:
        ops = _write_ops(req)
        if not ops:
            return answer(req)
        self.write_txns += 1
        fault = next((f for f in self.faults if f.hits(self.write_txns)), None)
        if fault is None:
            return answer(req)
        fault.fired += 1
        try:
            return self._inject(fault, ops[0], req, answer)
        finally:
            self.double.no_leader = self.double.no_leader or fault.then_down

    def _inject(self, fault: TxnFault, first: dict[str, object], req: RecordedRequest,
                answer: Callable[[RecordedRequest], Reply]) -> Reply:
        if fault.kind == "error":
            return Reply(fault.status, "rpc error making call: No cluster leader")
        if fault.kind == "reset":
            return Reply(DROPPED, b"")
        if fault.kind == "concurrent-write":
            value = fault.value
            if value is None:
                value = base64.b64decode(str(first.get("Value") or "")).decode()
            self.double.put(str(first["Key"]), value)
            return answer(req)
        reply = answer(req)
        return Reply(DROPPED, b"") if reply.status == 200 else reply


def _write_ops(req: RecordedRequest) -> list[dict[str, object]]:
    """The KV ops of a write transaction; empty for any other request."""
    if (req.method, req.path) != ("PUT", "/v1/txn"):
        return []
    try:
        ops = [op["KV"] for op in json.loads(req.body)]
    except (ValueError, TypeError, KeyError):
        return []
    return ops if any(op.get("Verb") in WRITE_VERBS for op in ops) else []

