"""How bootstrap asks GitHub (bootstrap/github_environment.py): the token it takes from the
environment, and the GET it sends, against a loopback server that records each request and
answers as GitHub's REST reference says (JSON, or 404 for an environment that does not exist)."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from bootstrap.github_environment import DEFAULT_API, api_get, token_from_env
from tests import loopback

SEEN: list[tuple[str, dict[str, str]]] = []


class GitHub(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        status = {"/missing": 404, "/broken": 500}.get(self.path, 200)
        body = json.dumps({"name": "production"} if status == 200 else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture
def api() -> Iterator[str]:
    SEEN.clear()
    with loopback.serving(GitHub) as url:
        yield url


def test_a_get_sends_the_token_and_the_documented_headers(api: str) -> None:
    assert api_get("t0ken", api + "/")("/repos/acme/webtier/environments/production") == \
        {"name": "production"}
    path, headers = SEEN[0]
    assert path == "/repos/acme/webtier/environments/production"
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"


def test_404_is_none_and_any_other_error_is_raised(api: str) -> None:
    get = api_get("t", api)
    assert get("/missing") is None
    with pytest.raises(urllib.error.HTTPError) as err:
        get("/broken")
    assert err.value.code == 500


@pytest.mark.parametrize(("env", "expected"), [
    ({}, (None, DEFAULT_API)),
    ({"GH_TOKEN": "gh"}, ("gh", DEFAULT_API)),
    ({"GITHUB_TOKEN": "actions", "GH_TOKEN": "gh"}, ("actions", DEFAULT_API)),
    ({"GITHUB_TOKEN": "", "GH_TOKEN": "gh"}, ("gh", DEFAULT_API)),
    ({"GITHUB_TOKEN": "t", "GITHUB_API_URL": "https://ghe.example/api/v3"},
     ("t", "https://ghe.example/api/v3")),
    ({"GITHUB_API_URL": ""}, (None, DEFAULT_API)),
])
def test_the_token_and_api_come_from_the_environment_as_actions_sets_them(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
        expected: tuple[str | None, str]) -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert token_from_env() == expected
    assert DEFAULT_API == "https://api.github.com"
