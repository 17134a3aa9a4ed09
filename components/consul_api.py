"""A minimal Consul HTTP API client: JSON calls with the token header, a CA bundle and the
datacenter, for the prepared-query provider and the token command.

Kept to one small interface on purpose (``ConsulApi.call``) so it can move onto the shared client
(components/consul_client.py) in one place. The token never reaches an error message.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from contracts import consul_ports

HTTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConsulEndpoint:
    address: str
    """http(s)://host:port of an agent or server HTTP API."""
    token: str = field(default="", repr=False)
    ca_pem: str = field(default="", repr=False)
    """PEM of the CA that signed the API's certificate ("" = the system store)."""
    datacenter: str = ""


def normalize_address(address: str) -> str:
    """Consul's CONSUL_HTTP_ADDR forms ("host:port", "https://host") as a full URL."""
    text = address.strip().rstrip("/")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.port is None:
        port = consul_ports.HTTPS.port if parts.scheme == "https" else consul_ports.HTTP.port
        text = f"{parts.scheme}://{parts.hostname}:{port}"
    return text


def endpoint_from(address: str | None, token: str | None, ca_pem: str | None,
                  datacenter: str, environ: Mapping[str, str]) -> ConsulEndpoint:
    """Given values first, then Consul's own environment variables, as the consul CLI does."""
    addr = address or environ.get("CONSUL_HTTP_ADDR") or \
        f"127.0.0.1:{consul_ports.HTTP.port}"
    ca = ca_pem or ""
    if not ca and environ.get("CONSUL_CACERT"):
        with open(environ["CONSUL_CACERT"], encoding="utf-8") as handle:
            ca = handle.read()
    return ConsulEndpoint(normalize_address(addr), token or environ.get("CONSUL_HTTP_TOKEN", ""),
                          ca, datacenter)


class ConsulApiError(Exception):
    """A Consul call failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ConsulApi:
    """JSON over Consul's HTTP API. Use as a context manager (it may hold a CA file)."""

    def __init__(self, endpoint: ConsulEndpoint, timeout: float = HTTP_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._session = requests.Session()
        self._ca_file: str | None = None
        if endpoint.ca_pem:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(endpoint.ca_pem)
            self._ca_file = handle.name
            self._session.verify = handle.name
        if endpoint.token:
            self._session.headers["X-Consul-Token"] = endpoint.token

    def __enter__(self) -> ConsulApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        if self._ca_file is not None:
            os.unlink(self._ca_file)
            self._ca_file = None

    def call(self, method: str, path: str, body: Any = None,
             params: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer (None for an empty one); ConsulApiError on any failure."""
        query = dict(params or {})
        if self.endpoint.datacenter:
            query.setdefault("dc", self.endpoint.datacenter)
        url = f"{self.endpoint.address}{path}"
        try:
            response = self._session.request(
                method, url, params=query, timeout=self.timeout,
                data=None if body is None else json.dumps(body))
        except requests.RequestException as err:
            # The exception text may carry the URL, never the token (it is a header).
            raise ConsulApiError(0, f"{method} {path}: {type(err).__name__}") from None
        if response.status_code >= 400:
            text = response.text.strip()[:300]
            if self.endpoint.token:
                text = text.replace(self.endpoint.token, "[secret]")
            raise ConsulApiError(response.status_code,
                                 f"{method} {path}: {response.status_code} {text}")
        if not response.content:
            return None
        return response.json()
