"""An HTTP handler served on 127.0.0.1 for the length of a `with`, for the tests' small doubles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The server's URL on a free loopback port; it is shut down and closed afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll: shutdown waits up to one interval, which counts in each test's time (the
    # mutation run keeps only tests under 0.1 s to judge a mutant).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
