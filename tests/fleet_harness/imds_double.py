"""An instance-metadata double for one node, listening at 169.254.169.254:80 inside the node's
network namespace (the socket comes from netns.listen_in). Only IMDSv2, as the launch template
requires. Rules, from the EC2 user guide:

[v2]    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
        a session starts with PUT /latest/api/token carrying X-aws-ec2-metadata-token-ttl-seconds
        (1 to 21600); a missing or out-of-range TTL is 400; with tokens required, a GET without a
        valid X-aws-ec2-metadata-token is 401.
[cats]  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html
        instance-id, local-ipv4, placement/availability-zone, placement/region, tags/instance,
        iam/security-credentials/<role>, autoscaling/target-lifecycle-state; an unknown path 404.
[tags]  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html
        tags/instance lists the tag keys, one per line; tags/instance/<key> is the value.
[ident] https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html
        /latest/dynamic/instance-identity/document is JSON with region, instanceId, privateIp, ...
[asg]   https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "webtier-node"
ACCOUNT = "123456789012"


class ImdsDouble:
    def __init__(self, sock: socket.socket, *, instance_id: str, address: str, region: str,
                 zone: str, tags: dict[str, str], lifecycle_state: Callable[[], str]) -> None:
        self.instance_id, self.address, self.region, self.zone = (instance_id, address, region,
                                                                  zone)
        self.tags = tags
        self.lifecycle_state = lifecycle_state
        self.tokens: dict[str, float] = {}
        self.requests: list[tuple[str, str, int]] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: str, kind: str = "text/plain",
                      ttl: int | None = None) -> None:
                double.requests.append((self.command, self.path, status))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                if ttl is not None:  # [v2]: the token's answer repeats its TTL (Go SDKs read it)
                    self.send_header("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                if self.path.rstrip("/") != "/latest/api/token":
                    return self._send(404, "Not Found")
                try:
                    ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
                except ValueError:
                    ttl = 0
                if not 1 <= ttl <= 21600:  # [v2]
                    return self._send(400, "Bad Request")
                token = secrets.token_urlsafe(24)
                double.tokens[token] = time.monotonic() + ttl
                self._send(200, token, ttl=ttl)

            def do_GET(self) -> None:
                token = self.headers.get("X-aws-ec2-metadata-token", "")
                if double.tokens.get(token, 0.0) < time.monotonic():  # [v2]
                    return self._send(401, "Unauthorized")
                found = double.answer(self.path.split("?")[0])
                if found is None:
                    return self._send(404, "Not Found")  # [cats]
                body, kind = found
                self._send(200, body, kind)

        self.server = ThreadingHTTPServer(("169.254.169.254", 80), Handler,
                                          bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"imds-{instance_id}")

    def start(self) -> ImdsDouble:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str) -> tuple[str, str] | None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
        meta = {
            "instance-id": self.instance_id,
            "local-ipv4": self.address,
            "placement/availability-zone": self.zone,
            "placement/region": self.region,
            "tags/instance": "\n".join(self.tags),  # [tags]
            "iam/security-credentials": ROLE,
            f"iam/security-credentials/{ROLE}": json.dumps({
                # moto accepts any key; these never leave the harness.
                "Code": "Success", "LastUpdated": now, "Type": "AWS-HMAC",
                "AccessKeyId": "testing", "SecretAccessKey": "testing",
                "Token": "testing-session", "Expiration": expires}),
        }
        meta.update({f"tags/instance/{k}": v for k, v in self.tags.items()})
        if path == "/latest/dynamic/instance-identity/document":  # [ident]
            return json.dumps({"accountId": ACCOUNT, "availabilityZone": self.zone,
                               "instanceId": self.instance_id, "privateIp": self.address,
                               "region": self.region, "instanceType": "t3.small",
                               "architecture": "x86_64", "imageId": "ami-0fleet0harness0"}), \
                "application/json"
        prefix = "/latest/meta-data/"
        if not path.startswith(prefix):
            return None
        key = path[len(prefix):].rstrip("/")
        if key == "autoscaling/target-lifecycle-state":  # [asg]
            state = self.lifecycle_state()
            return (state, "text/plain") if state else None
        value = meta.get(key)
        return None if value is None else (value, "text/plain")
