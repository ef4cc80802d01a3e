"""A real HTTP server on loopback that receives webhooks and answers as a test scripts it."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    script: deque = field(default_factory=deque)  # status codes (or ("sleep", s) / ("redirect", url)) to answer
    default: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver(port: int = 0) -> Receiver:
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            receiver: Receiver = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            action = receiver.script.popleft() if receiver.script else receiver.default
            if isinstance(action, tuple) and action[0] == "sleep":
                time.sleep(action[1])
                action = 200
            if isinstance(action, tuple) and action[0] == "redirect":
                self.send_response(302)
                self.send_header("location", action[1])
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self.send_response(action)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    holder["receiver"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


if __name__ == "__main__":
    # A receiver in a process of its own (benchmarks: it must not share the sender's interpreter lock).
    import sys

    running = start_receiver(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(running.url, flush=True)
    threading.Event().wait()
