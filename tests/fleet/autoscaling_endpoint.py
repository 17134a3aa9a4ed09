"""The refresh double behind a real HTTP endpoint that speaks Auto Scaling's query protocol, so
an unmodified boto3 client (in this process or in Pulumi's provider process) talks to it through
`AWS_ENDPOINT_URL_AUTOSCALING`. Requests are parsed and answers written from botocore's own
service model, so the wire format is the one botocore's parser checks on every call.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import ListShape, MapShape, Shape, StructureShape

from tests import loopback
from tests.fleet.refresh_double import AutoScalingDouble, AwsError

NAMESPACE = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
_SESSION = botocore.session.get_session()
MODEL = _SESSION.get_service_model("autoscaling")
ACTIONS = {
    "StartInstanceRefresh": "start_instance_refresh",
    "DescribeInstanceRefreshes": "describe_instance_refreshes",
    "CancelInstanceRefresh": "cancel_instance_refresh",
    "RollbackInstanceRefresh": "rollback_instance_refresh",
    "DescribeAutoScalingGroups": "describe_auto_scaling_groups",
}


def parse(shape: Shape, params: dict[str, str], prefix: str) -> Any:
    """A query-protocol request's flat keys (`A.B`, `A.member.1`, `A.member.1.B`) back into the
    value of `shape`; None when the request carries nothing for it."""
    if isinstance(shape, StructureShape):
        if prefix and not any(k.startswith(f"{prefix}.") for k in params):
            return None
        out = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = parse(member, params, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                out[name] = value
        return out
    if isinstance(shape, ListShape):
        items = []
        for n in range(1, 1000):
            item = parse(shape.member, params, f"{prefix}.member.{n}")
            if item is None:
                break
            items.append(item)
        # An empty list goes on the wire as `A=` (botocore's query serializer).
        return items if items or prefix in params else None
    if isinstance(shape, MapShape):
        raise NotImplementedError("no call served here takes a map")
    if prefix not in params:
        return None
    raw = params[prefix]
    if shape.type_name in ("integer", "long"):
        return int(raw)
    if shape.type_name == "boolean":
        return raw == "true"
    if shape.type_name in ("float", "double"):
        return float(raw)
    return raw


def serialize(shape: Shape, value: Any) -> str:
    """A value of `shape` as the XML body botocore's query parser reads."""
    if isinstance(shape, StructureShape):
        parts = []
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                tag = member.serialization.get("name", name)
                parts.append(f"<{tag}>{serialize(member, value[name])}</{tag}>")
        return "".join(parts)
    if isinstance(shape, ListShape):
        return "".join(f"<member>{serialize(shape.member, v)}</member>" for v in value)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        assert isinstance(value, datetime)
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return escape(str(value))


def _error(err: AwsError) -> tuple[int, str]:
    return err.status, (f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
                        f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}"
                        "</Message></Error><RequestId>double</RequestId></ErrorResponse>")


def answer(double: AutoScalingDouble, body: str) -> tuple[int, str]:
    params = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
    action = params.pop("Action", "")
    params.pop("Version", None)
    if action not in ACTIONS:
        return _error(AwsError("InvalidAction", f"the double does not serve {action}"))
    op = MODEL.operation_model(action)
    request = parse(op.input_shape, params, "") if op.input_shape else {}
    with double.lock:
        double.calls.append((action, request))
        try:
            result = getattr(double, ACTIONS[action])(request)
        except AwsError as err:
            return _error(err)
        if action == "DescribeInstanceRefreshes":
            double.tick()  # AWS's clock moves between a watcher's polls
    body_xml = serialize(op.output_shape, result) if op.output_shape else ""
    return 200, (f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{body_xml}'
                 f"</{action}Result><ResponseMetadata><RequestId>double</RequestId>"
                 f"</ResponseMetadata></{action}Response>")


def _handler(double: AutoScalingDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            status, text = answer(double, self.rfile.read(length).decode())
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            return None

    return Handler


@contextmanager
def serving(double: AutoScalingDouble) -> Iterator[str]:
    """The double's URL on 127.0.0.1 (a free port); the server stops afterwards."""
    with loopback.serving(_handler(double)) as url:
        yield url


class _Body:
    """What botocore reads an answer's body from (AWSResponse.raw.stream())."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kw: Any) -> Iterator[bytes]:
        yield self.data


def in_process_client(double: AutoScalingDouble, region: str = "ap-northeast-1") -> Any:
    """A real boto3 Auto Scaling client that `answer` serves without a socket: botocore emits
    `before-send` with the signed request and uses a handler's response instead of sending
    (botocore/endpoint.py), so serializing and parsing are botocore's own as over HTTP. For the
    fast unit tests the mutation run uses; the HTTP endpoint stays the integration tests' path."""
    client = _SESSION.create_client("autoscaling", region_name=region,
                                    endpoint_url="http://autoscaling.double.invalid",
                                    aws_access_key_id="x", aws_secret_access_key="x")

    def send(request: AWSPreparedRequest, **_kw: Any) -> AWSResponse:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        status, xml = answer(double, text)
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"},
                           _Body(xml.encode()))

    client.meta.events.register("before-send.auto-scaling", send)
    return client
