"""A fake self-hosted inference server with a known capacity, for testing `breakeven measure`.

It speaks the OpenAI chat completions API over real HTTP/1.1 on loopback and behaves like a GPU server in the
one way that matters for capacity: a fixed number of concurrent slots (excess requests queue), each request
holding its slot for a prefill time proportional to its prompt tokens plus a decode time per output token.
Its capacity is therefore known exactly: slots / (prefill + decode x completion tokens) requests per second.

Tokens are counted as the ceiling of characters / 4, a different rule from "one token per word" on purpose,
so that the client's prompt calibration has something to find.

The slots run on their own clock, as a GPU does: a request takes the slot that frees first (in arrival order)
and starts when that slot's previous request ends, not when this process gets around to it, and its tokens
are due at absolute times from that start. So a busy machine delays the bytes a little but cannot stretch
the schedule, and the capacity stays the formula's.

Run it in its own process (`python -m tests.fakes.gpu_server --port 0 ...`, which prints `ready <base url>`),
or use `running_gpu_server(...)`, so that the client under test does not share an interpreter lock with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

TEMPLATE_TOKENS = 3  # the assistant priming
MESSAGE_TOKENS = 4  # role markers around each message
DEFAULT_MAX_TOKENS = 16


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: list[dict]) -> int:
    return TEMPLATE_TOKENS + sum(MESSAGE_TOKENS + count_tokens(str(m.get("content") or "")) for m in messages)


@dataclass(frozen=True)
class GpuProfile:
    slots: int = 4
    prefill_per_token: float = 0.00001  # 1 ms per 100 prompt tokens
    decode_per_token: float = 0.002
    streaming: bool = True
    api_key: str | None = None

    def service_time(self, prompt: int, completion: int) -> float:
        return prompt * self.prefill_per_token + completion * self.decode_per_token

    def capacity(self, prompt: int, completion: int) -> float:
        """Requests per second when every slot is always busy."""
        return self.slots / self.service_time(prompt, completion)


REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
}


class FakeGpuServer:
    def __init__(self, profile: GpuProfile):
        self.profile = profile
        self.free_at = [0.0] * profile.slots  # when each slot finishes the work already given to it
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away (Ctrl-C, timeout): a real server aborts the request too
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request_line = await reader.readline()
        if not request_line:
            return False
        method, path, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > 10_000_000:
            await self._json(writer, 413, {"error": {"message": "body too large"}})
            return False
        body = await reader.readexactly(length) if length else b""
        keep_alive = headers.get("connection", "").lower() != "close"

        key = self.profile.api_key
        if key is not None and headers.get("authorization") != f"Bearer {key}":
            # Echo what was sent, as some servers do: the client must not pass it on to the terminal.
            sent = headers.get("authorization", "")
            error = {"message": f"Invalid API key ({sent})", "type": "invalid_request_error"}
            await self._json(writer, 401, {"error": error})
            return keep_alive
        if path.rstrip("/") == "/v1/models" and method == "GET":
            await self._json(writer, 200, {"object": "list", "data": [{"id": "fake-llama"}]})
            return keep_alive
        if path.rstrip("/") != "/v1/chat/completions":
            await self._json(writer, 404, {"error": {"message": f"no route {path}"}})
            return keep_alive
        if method != "POST":
            await self._json(writer, 405, {"error": {"message": "use POST"}})
            return keep_alive
        try:
            request = json.loads(body)
            messages = request["messages"]
            max_tokens = int(request.get("max_tokens") or DEFAULT_MAX_TOKENS)
        except (ValueError, KeyError, TypeError):
            await self._json(writer, 400, {"error": {"message": "expected a JSON body with messages"}})
            return keep_alive
        stream = bool(request.get("stream"))
        if stream and not self.profile.streaming:
            await self._json(writer, 400, {"error": {"message": "streaming is not supported by this server"}})
            return keep_alive
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        await self._complete(
            writer, request.get("model", ""), prompt_tokens(messages), max_tokens, stream, include_usage
        )
        return keep_alive

    async def _complete(
        self, writer: asyncio.StreamWriter, model: str, prompt: int, completion: int, stream: bool, include_usage: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        ident = f"chatcmpl-{self.served}"
        self.served += 1
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        slot = min(range(len(self.free_at)), key=self.free_at.__getitem__)
        begin = max(loop.time(), self.free_at[slot])
        self.free_at[slot] = begin + self.profile.service_time(prompt, completion)
        await _sleep_until(loop, begin)  # queued behind the slot's earlier requests
        first_token_at = begin + prompt * self.profile.prefill_per_token
        if stream:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n"
            )
            opening = {"index": 0, "delta": {"role": "assistant", "content": ""}}
            await self._event(
                writer, {"id": ident, "object": "chat.completion.chunk", "model": model, "choices": [opening]}
            )
        for i in range(completion):
            await _sleep_until(loop, first_token_at + (i + 1) * self.profile.decode_per_token)
            if stream:
                await self._event(
                    writer,
                    {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "model": model,
                        "choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}],
                    },
                )
        if not stream:
            await _sleep_until(loop, first_token_at + completion * self.profile.decode_per_token)
        if stream:
            await self._event(
                writer,
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
                },
            )
            if include_usage:
                await self._event(
                    writer,
                    {"id": ident, "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage},
                )
            writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
            return
        text = "".join(f" w{i}" for i in range(completion))
        await self._json(
            writer,
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
                "usage": usage,
            },
        )

    async def _event(self, writer: asyncio.StreamWriter, data: dict) -> None:
        writer.write(_chunk(b"data: " + json.dumps(data).encode() + b"\n\n"))
        await writer.drain()

    async def _json(self, writer: asyncio.StreamWriter, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        writer.write(
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def serve(profile: GpuProfile, host: str, port: int) -> None:
    fake = FakeGpuServer(profile)
    server = await asyncio.start_server(fake.handle, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"ready http://{host}:{bound}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--prefill-ms-per-100-tokens", type=float, default=1.0)
    parser.add_argument("--decode-ms-per-token", type=float, default=2.0)
    parser.add_argument("--no-streaming", action="store_true", help="answer stream requests with HTTP 400")
    args = parser.parse_args(argv)
    profile = GpuProfile(
        slots=args.slots,
        prefill_per_token=args.prefill_ms_per_100_tokens / 100_000,
        decode_per_token=args.decode_ms_per_token / 1000,
        streaming=not args.no_streaming,
        # From the environment, not argv, so the key is not visible in the process list.
        api_key=os.environ.get("FAKE_GPU_API_KEY") or None,
    )
    asyncio.run(serve(profile, args.host, args.port))


@contextlib.contextmanager
def running_gpu_server(profile: GpuProfile, startup_timeout: float = 10.0) -> Iterator[str]:
    """Start the fake in a child process on a free loopback port; yields its base URL (ending in /v1)."""
    args = [
        sys.executable,
        "-m",
        "tests.fakes.gpu_server",
        "--port",
        "0",
        "--slots",
        str(profile.slots),
        "--prefill-ms-per-100-tokens",
        repr(profile.prefill_per_token * 100_000),
        "--decode-ms-per-token",
        repr(profile.decode_per_token * 1000),
    ]
    if not profile.streaming:
        args.append("--no-streaming")
    env = {**os.environ, "FAKE_GPU_API_KEY": profile.api_key or "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], startup_timeout)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            raise RuntimeError(f"the fake GPU server did not start (exit code {proc.poll()})")
        yield line.split(" ", 1)[1].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


if __name__ == "__main__":
    main()
