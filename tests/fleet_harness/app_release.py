"""A small real app for the fleet: one Python file that serves /health on the stack's app port and
says which release it is and which config it runs with. A release made with healthy=False answers
/health with 500, as a broken release would. A node holding /opt/app/shared/warmup-seconds has its
app answer 503 for that long after each start, as an app that loads before serving would."""

from __future__ import annotations

from pathlib import Path

START = r'''#!/usr/bin/python3
"""The fleet app: GET /health -> {"release": ..., "config": sha256 of the rendered app.toml}."""
import hashlib, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
RELEASE = HERE.name
HEALTHY = not (HERE / "BROKEN").exists()
PORT = int(os.environ.get("WEBTIER_APP_PORT", "%(port)d"))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            config = Path(os.environ["WEBTIER_APP_CONFIG"]).read_bytes()
        except (KeyError, OSError):
            config = b""
        body = json.dumps({"release": RELEASE, "healthy": HEALTHY,
                           "config": hashlib.sha256(config).hexdigest()[:16],
                           "started": STARTED}).encode()
        warming = time.time() < STARTED + WARMUP
        self.send_response(503 if warming else 200 if HEALTHY and self.path == "/health"
                           else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


import time
STARTED = time.time()
try:
    WARMUP = float(Path("/opt/app/shared/warmup-seconds").read_text())
except (OSError, ValueError):
    WARMUP = 0.0
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
'''


def make_release(folder: Path, port: int, *, healthy: bool = True) -> Path:
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    start = folder / "bin" / "start"
    start.write_text(START % {"port": port})
    start.chmod(0o755)
    if not healthy:
        (folder / "BROKEN").write_text("this release fails its health check\n")
    return folder
