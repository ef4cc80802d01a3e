"""A local fake of Groq's OpenAI-compatible API: the only fake the test suite allows.

It is a real HTTP server on 127.0.0.1 so that n8n's HTTP Request node and groq-sdk (inside n8n's LangChain Groq
node) talk to it exactly as they would talk to ``https://api.groq.com``. Every completion gets token counts that
differ from the previous one (they depend on the prompt and on a per-server counter), and every answer is recorded,
so a test can assert that the exact numbers Groq reported are the numbers that reached the ledger.

Base URLs: groq-sdk takes ``http://127.0.0.1:<port>`` (``GROQ_BASE_URL``) and appends ``/openai/v1/...``; an
OpenAI-compatible client (our workflows' Config node) takes ``http://127.0.0.1:<port>/openai/v1``.

Run standalone with ``python -m tests.fakes.groq --port 8765 --api-key gsk_test``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/openai/v1"
DEFAULT_API_KEY = "gsk_fake_groq_test_key"
DEFAULT_MODELS = ("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b")
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Completion:
    """One answered chat completion, as the fake reported it to the client."""

    request_id: str  # Groq's x_groq.id ("req_...")
    completion_id: str  # the OpenAI-style id ("chatcmpl-...")
    model: str
    messages: list[dict[str, Any]]
    content: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class _State:
    api_key: str
    models: tuple[str, ...]
    lock: threading.Lock = field(default_factory=threading.Lock)
    completions: list[Completion] = field(default_factory=list)
    rejected_auth: int = 0


def _groq_error(message: str, error_type: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": error_type}
    if code is not None:
        error["code"] = code
    return {"error": error}


def _count_words(messages: list[dict[str, Any]]) -> int:
    words = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):  # OpenAI "content parts"
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    words += len(part["text"].split())
    return words


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def _validate_messages(body: Any) -> str | None:
    """Returns an error message naming the bad field, or None; mirrors the checks Groq answers 400 for."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' : property 'model' is missing"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' : minimum number of items is 1"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "tool"):
            return f"'messages.{index}.role' : must be one of system, user, assistant, tool"
    return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeGroq/1.0"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature set by the base class
        # Quiet by default: pytest output stays readable; the recorded completions are the useful log.
        pass

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        expected = f"Bearer {self.state.api_key}"
        if secrets.compare_digest(header.encode(), expected.encode()):
            return True
        with self.state.lock:
            self.state.rejected_auth += 1
        self._send_json(401, _groq_error("Invalid API Key", "invalid_request_error", "invalid_api_key"))
        return False

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send_json(400, _groq_error("invalid Content-Length", "invalid_request_error"))
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != f"{API_PREFIX}/models":
            self._send_json(404, _groq_error("Unknown request URL", "invalid_request_error", "unknown_url"))
            return
        if not self._authorized():
            return
        data = [
            {
                "id": model,
                "object": "model",
                "created": 1_700_000_000,
                "owned_by": "Fake Groq",
                "active": True,
                "context_window": 131_072,
                "public_apps": None,
            }
            for model in self.state.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        if raw is None:
            return
        if path != f"{API_PREFIX}/chat/completions":
            self._send_json(404, _groq_error("Unknown request URL", "invalid_request_error", "unknown_url"))
            return
        if not self._authorized():
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._send_json(400, _groq_error("request body is not valid JSON", "invalid_request_error"))
            return
        problem = _validate_messages(body)
        if problem is not None:
            self._send_json(400, _groq_error(problem, "invalid_request_error"))
            return
        if body["model"] not in self.state.models:
            message = f"The model `{body['model']}` does not exist or you do not have access to it."
            self._send_json(404, _groq_error(message, "invalid_request_error", "model_not_found"))
            return
        if body.get("stream"):
            self._send_json(400, _groq_error("the fake Groq does not stream", "invalid_request_error"))
            return
        self._send_json(200, self._complete(body))

    def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        with self.state.lock:
            number = len(self.state.completions) + 1
            # Counts depend on the prompt and on the request number, so no two requests report the same usage
            # and a test cannot pass by reading a constant.
            prompt_tokens = 9 + 4 * len(messages) + _count_words(messages) * 2 + number
            completion_tokens = 17 + 3 * number + len(_last_user_text(messages)) % 23
            content = f"Fake Groq answer {number}: {_last_user_text(messages)[:200]}"
            completion = Completion(
                request_id=f"req_{secrets.token_hex(13)}",
                completion_id=f"chatcmpl-{secrets.token_hex(16)}",
                model=body["model"],
                messages=messages,
                content=content,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
            self.state.completions.append(completion)
        return {
            "id": completion.completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": completion.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion.content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "queue_time": 0.011 + number / 10_000,
                "prompt_tokens": completion.prompt_tokens,
                "prompt_time": 0.002 + number / 100_000,
                "completion_tokens": completion.completion_tokens,
                "completion_time": 0.05 + number / 1_000,
                "total_tokens": completion.total_tokens,
                "total_time": 0.052 + number / 1_000 + number / 100_000,
            },
            "system_fingerprint": "fp_fakegroq01",
            "x_groq": {"id": completion.request_id},
        }


class FakeGroq:
    """A fake Groq server on 127.0.0.1; ``start()`` returns the server's base URL (for ``GROQ_BASE_URL``)."""

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        models: tuple[str, ...] = DEFAULT_MODELS,
        port: int = 0,
    ) -> None:
        self._state = _State(api_key=api_key, models=tuple(models))
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_key(self) -> str:
        return self._state.api_key

    @property
    def base_url(self) -> str:
        """Server root, what groq-sdk takes as ``GROQ_BASE_URL``."""
        if self._server is None:
            raise RuntimeError("the fake Groq is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI-compatible base, what a workflow's Config node ``base_url`` takes."""
        return self.base_url + API_PREFIX

    @property
    def completions(self) -> list[Completion]:
        with self._state.lock:
            return list(self._state.completions)

    @property
    def rejected_auth(self) -> int:
        with self._state.lock:
            return self._state.rejected_auth

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.daemon_threads = True
        server.state = self._state  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-groq", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGroq:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Groq OpenAI-compatible API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the Bearer key clients must send")
    args = parser.parse_args(argv)
    fake = FakeGroq(api_key=args.api_key, port=args.port)
    fake.start()
    print(f"fake Groq listening: GROQ_BASE_URL={fake.base_url} OpenAI base URL={fake.openai_base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
