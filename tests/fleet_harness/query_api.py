"""The AWS endpoints the nodes call, on 198.18.0.1:443 with a harness CA the nodes trust.

Nodes resolve the regional endpoint names to the host through /etc/hosts (dnsmasq serves it too)
and trust the harness CA through the system store, so the real aws CLI, stretcher (Go SDK v2)
and Consul's cloud auto-join call their usual URLs unchanged. By Host header:
  ssm.*, s3.*, <bucket>.s3.*     proxied to moto (the real emulator) unchanged
  autoscaling.*                  the lifecycle double (moto has no lifecycle actions)
  ec2.*                          DescribeInstances over the harness's instances (IMDS ids, tags)
  elasticloadbalancing.*         DeregisterTargets, recorded (a node must not drain twice)
The deploy on the host calls https://<host address> (no /etc/hosts there): the service is then
the one its Signature Version 4 credential scope names (<key>/<date>/<region>/<service>/
aws4_request, https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
Query API and its errors: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-requests.html
and the Auto Scaling API Reference's "Common Errors" (ValidationError, HTTP 400, XML ErrorResponse).
"""

from __future__ import annotations

import http.client
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.fleet_harness.lifecycle_double import LifecycleDouble, NoActiveAction

ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ELB_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"


@dataclass
class Ec2Instance:
    instance_id: str
    address: str
    tags: dict[str, str]
    running: Callable[[], bool]


def service_hosts(region: str, buckets: list[str]) -> list[str]:
    names = [f"{s}.{region}.amazonaws.com" for s in
             ("ec2", "autoscaling", "elasticloadbalancing", "ssm", "s3", "sts")]
    names += [f"{b}.s3.{region}.amazonaws.com" for b in buckets]
    return names


class QueryApi:
    def __init__(self, address: str, context: ssl.SSLContext, moto: str,
                 lifecycle: LifecycleDouble, zone: str = "ap-northeast-1a") -> None:
        self.lifecycle = lifecycle
        self.zone = zone
        self.instances: dict[str, Ec2Instance] = {}
        self.empty_groups: list[str] = []
        """Further groups (another stack's) that hold no instance."""
        moto_host = urlsplit(moto)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _proxy(self) -> None:
                body = self._body()
                conn = http.client.HTTPConnection(moto_host.hostname or "127.0.0.1",
                                                  moto_host.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None,
                                 headers={k: v for k, v in self.headers.items()
                                          if k.lower() != "connection"})
                    answer = conn.getresponse()
                    data = answer.read()
                    self._reply(answer.status, data if self.command != "HEAD" else b"",
                                answer.getheaders())
                finally:
                    conn.close()

            def _handle(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                service = host.split(".")[0]
                if host == address:
                    scope = (self.headers.get("Authorization") or "").split("Credential=")
                    parts = scope[-1].split(",")[0].split("/") if len(scope) > 1 else []
                    service = parts[3] if len(parts) == 5 else service
                if service not in ("autoscaling", "ec2", "elasticloadbalancing"):
                    return self._proxy()
                params = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                status, xml = api.answer(service, params)
                self._reply(status, xml.encode(), [("Content-Type", "text/xml")])

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer((address, 443), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="query-api")

    def start(self) -> QueryApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, service: str, p: dict[str, str]) -> tuple[int, str]:
        action = p.get("Action", "")
        rid = str(uuid.uuid4())
        if service == "autoscaling":
            return self._autoscaling(action, p, rid)
        if service == "ec2" and action == "DescribeInstances":
            return 200, self._describe_instances(p, rid)
        if service == "elasticloadbalancing" and action == "DeregisterTargets":
            # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeregisterTargets.html
            self.lifecycle.record("DeregisterTargets", p.get("Targets.member.1.Id", ""),
                                  p.get("TargetGroupArn", ""))
            return 200, _ok("DeregisterTargets", ELB_NS, rid)
        return 400, _error(ASG_NS, "InvalidAction", f"{action} is not supported here", rid)

    def _autoscaling(self, action: str, p: dict[str, str], rid: str) -> tuple[int, str]:
        args = (p.get("AutoScalingGroupName", ""), p.get("LifecycleHookName", ""),
                p.get("InstanceId", ""))
        try:
            if action == "CompleteLifecycleAction":
                # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html
                self.lifecycle.complete(*args, p.get("LifecycleActionResult", ""))
                return 200, _ok(action, ASG_NS, rid)
            if action == "RecordLifecycleActionHeartbeat":
                self.lifecycle.heartbeat(*args)
                return 200, _ok(action, ASG_NS, rid)
            if action == "DescribeAutoScalingGroups":
                return 200, describe_groups(self.lifecycle, self.empty_groups, self.zone, p, rid)
        except NoActiveAction as e:
            return 400, _error(ASG_NS, "ValidationError", str(e), rid)
        return 400, _error(ASG_NS, "InvalidAction", f"{action} is not supported here", rid)

    def _describe_instances(self, p: dict[str, str], rid: str) -> str:
        """https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html:
        InstanceId.N and Filter.N.Name/Value.M (tag:<key>, instance-state-name)."""
        ids = {v for k, v in p.items() if k.startswith("InstanceId.")}
        filters: dict[str, set[str]] = {}
        for k, name in p.items():
            if k.startswith("Filter.") and k.endswith(".Name"):
                n = k.split(".")[1]
                filters[name] = {v for kk, v in p.items() if kk.startswith(f"Filter.{n}.Value.")}
        items = []
        for inst in self.instances.values():
            state = "running" if inst.running() else "stopped"
            if ids and inst.instance_id not in ids:
                continue
            if any((name == "instance-state-name" and state not in values)
                   or (name.startswith("tag:") and inst.tags.get(name[4:]) not in values)
                   for name, values in filters.items()):
                continue
            tags = "".join(f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>"
                           for k, v in inst.tags.items())
            code = 16 if state == "running" else 80
            items.append(
                f"<item><reservationId>r-{inst.instance_id[2:]}</reservationId>"
                "<ownerId>123456789012</ownerId><groupSet/><instancesSet><item>"
                f"<instanceId>{inst.instance_id}</instanceId>"
                f"<instanceState><code>{code}</code><name>{state}</name></instanceState>"
                f"<privateIpAddress>{inst.address}</privateIpAddress>"
                f"<tagSet>{tags}</tagSet></item></instancesSet></item>")
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse '
                f'xmlns="{EC2_NS}"><requestId>{rid}</requestId><reservationSet>{"".join(items)}'
                "</reservationSet></DescribeInstancesResponse>")


def describe_groups(lifecycle: LifecycleDouble, empty_groups: list[str], zone: str,
                    p: dict[str, str], rid: str) -> str:
    """https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html
    AutoScalingGroupNames.member.N (none: every group; a name that matches nothing is no
    error, just absent), one page (NextToken only past MaxRecords, default 50). Each group is
    an AutoScalingGroup (API_AutoScalingGroup.html: its required members) whose Instances are
    API_Instance.html items {InstanceId, AvailabilityZone, LifecycleState, HealthStatus,
    ProtectedFromScaleIn}, LifecycleState from the lifecycle double. Warm-pool instances
    (Warmed:*) are not among a group's Instances but DescribeWarmPool's
    (API_DescribeWarmPool.html), and a Terminated instance has left the group."""
    names = {v for k, v in p.items() if k.startswith("AutoScalingGroupNames.member.")}
    with lifecycle.lock:
        states = {i.instance_id: i.state for i in lifecycle.instances.values()}
    held = {lifecycle.group: {i: s for i, s in states.items()
                              if s != "Terminated" and not s.startswith("Warmed:")}}
    held.update({g: {} for g in empty_groups})
    groups = []
    for group, instances in held.items():
        if names and group not in names:
            continue
        members = "".join(
            f"<member><InstanceId>{i}</InstanceId><AvailabilityZone>{zone}"
            f"</AvailabilityZone><LifecycleState>{escape(s)}</LifecycleState>"
            "<HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false"
            "</ProtectedFromScaleIn></member>" for i, s in sorted(instances.items()))
        groups.append(
            f"<member><AutoScalingGroupName>{escape(group)}</AutoScalingGroupName>"
            f"<MinSize>0</MinSize><MaxSize>10</MaxSize>"
            f"<DesiredCapacity>{len(instances)}</DesiredCapacity>"
            f"<DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>{zone}"
            "</member></AvailabilityZones><HealthCheckType>ELB</HealthCheckType>"
            "<CreatedTime>2026-01-01T00:00:00Z</CreatedTime>"
            f"<Instances>{members}</Instances></member>")
    return (f'<DescribeAutoScalingGroupsResponse xmlns="{ASG_NS}">'
            f"<DescribeAutoScalingGroupsResult><AutoScalingGroups>{''.join(groups)}"
            "</AutoScalingGroups></DescribeAutoScalingGroupsResult><ResponseMetadata>"
            f"<RequestId>{rid}</RequestId></ResponseMetadata>"
            "</DescribeAutoScalingGroupsResponse>")


def _ok(action: str, ns: str, rid: str) -> str:
    return (f'<{action}Response xmlns="{ns}"><{action}Result/><ResponseMetadata>'
            f"<RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>")


def _error(ns: str, code: str, message: str, rid: str) -> str:
    return (f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{rid}</RequestId>"
            "</ErrorResponse>")
