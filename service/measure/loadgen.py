"""A polite load generator for OpenAI-compatible chat completions endpoints.

It probes the endpoint (reachability, key, model), calibrates synthetic prompts to the target token count,
detects streaming, then sweeps concurrency 1, 2, 4, ... with closed-loop workers: each worker sends its next
request as soon as the previous one finishes, so the offered load is exactly the concurrency. A step's
throughput is measured over its steady part (see `sustained_rate`); the drain at its end is included, which
errs on the low side. Every request counts against a total cap, and the whole run against a time cap.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from service.measure.synthetic import Calibration, calibrate, make_prompt

T = TypeVar("T")
Progress = Callable[[str], None]

# A step must raise throughput by at least this fraction over the best so far, or the sweep stops.
MIN_GAIN = 0.05


class MeasureError(Exception):
    """A problem the user has to fix (URL, key, model, flags). The message is safe to print: no secrets."""


class Interrupted(Exception):
    """The user asked to stop (Ctrl-C)."""


def display_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 300.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MeasureError(
                "--base-url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                f"got {display_url(self.base_url)!r}"
            )

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def shown_url(self) -> str:
        return display_url(self.url)

    def redact(self, text: str) -> str:
        """Servers sometimes echo what they were sent; make sure the key never reaches the terminal."""
        if self.api_key and len(self.api_key) >= 4:
            text = text.replace(self.api_key, "***")
        return text


@dataclass
class RequestResult:
    ok: bool
    latency: float
    ttft: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_reported: bool = False
    status: int | None = None
    error: str | None = None
    connect_failed: bool = False
    ended: float = 0.0  # perf_counter() when the worker had the whole response


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: list[float]) -> Percentiles | None:
        if not values:
            return None
        ordered = sorted(values)
        return cls(percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99))

    def to_dict(self) -> dict:
        return {"p50": round(self.p50, 4), "p95": round(self.p95, 4), "p99": round(self.p99, 4)}


def percentile(ordered: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on an already sorted list."""
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class StepResult:
    concurrency: int
    ok: int
    errors: int
    duration: float
    requests_per_second: float
    output_tokens_per_second: float
    latency: Percentiles | None
    ttft: Percentiles | None
    mean_prompt_tokens: float | None
    mean_completion_tokens: float | None
    error_samples: list[str] = field(default_factory=list)
    cancelled: int = 0
    usage_estimated: bool = False

    @property
    def complete(self) -> bool:
        """Cut-off requests would bias the rate, so a step with any is not used for capacity."""
        return self.cancelled == 0

    def meets(self, latency_slo: float | None) -> bool:
        if not self.complete or self.errors or not self.ok or self.latency is None:
            return False
        return latency_slo is None or self.latency.p95 <= latency_slo

    def to_dict(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "requests": self.ok,
            "errors": self.errors,
            "cancelled": self.cancelled,
            "complete": self.complete,
            "duration_s": round(self.duration, 3),
            "requests_per_second": round(self.requests_per_second, 4),
            "output_tokens_per_second": round(self.output_tokens_per_second, 2),
            "latency_s": self.latency.to_dict() if self.latency else None,
            "ttft_s": self.ttft.to_dict() if self.ttft else None,
            "mean_prompt_tokens": _round(self.mean_prompt_tokens, 1),
            "mean_completion_tokens": _round(self.mean_completion_tokens, 1),
            "usage_estimated": self.usage_estimated,
            "error_samples": self.error_samples,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def sustained_rate(concurrency: int, good: list[RequestResult], started: float,
                   ended: float) -> tuple[float, list[RequestResult]]:
    """Requests per second a step sustained, and the completions that rate rests on.

    Closed-loop workers start together and stop together, so the first and the last `concurrency`
    completions belong to the ramp-up and the drain. The rate is the slope of a least-squares line through
    the times of the completions in between (completions counted against time): exact for a server of fixed
    capacity, and a late timestamp or two (a busy client) barely moves it, where a count divided by the
    time between two single completions would swing. Steps too short for that fall back to all
    completions over the whole step.
    """
    done = sorted(good, key=lambda r: r.ended)
    steady = done[concurrency:len(done) - concurrency]
    times = [r.ended for r in steady]
    if len(times) >= 4 and times[-1] > times[0]:
        mean_t = sum(times) / len(times)
        mean_i = (len(times) - 1) / 2
        var = sum((t - mean_t) ** 2 for t in times)
        cov = sum((t - mean_t) * (i - mean_i) for i, t in enumerate(times))
        return cov / var, steady
    return len(done) / max(ended - started, 1e-9), done


def summarize(concurrency: int, results: list[RequestResult], started: float, ended: float,
              cancelled: int) -> StepResult:
    good = [r for r in results if r.ok]
    bad = [r for r in results if not r.ok]
    duration = max(ended - started, 1e-9)
    rate, basis = sustained_rate(concurrency, good, started, ended)
    tokens = [r.completion_tokens for r in basis if r.completion_tokens is not None]
    completion = [r.completion_tokens for r in good if r.completion_tokens is not None]
    prompt = [r.prompt_tokens for r in good if r.prompt_tokens is not None]
    samples: list[str] = []
    for r in bad:
        if r.error and r.error not in samples and len(samples) < 3:
            samples.append(r.error)
    return StepResult(
        concurrency=concurrency,
        ok=len(good),
        errors=len(bad),
        duration=duration,
        requests_per_second=rate,
        output_tokens_per_second=rate * sum(tokens) / len(tokens) if tokens else 0.0,
        latency=Percentiles.of([r.latency for r in good]),
        ttft=Percentiles.of([r.ttft for r in good if r.ttft is not None]),
        mean_prompt_tokens=sum(prompt) / len(prompt) if prompt else None,
        mean_completion_tokens=sum(completion) / len(completion) if completion else None,
        error_samples=samples,
        cancelled=cancelled,
        usage_estimated=any(r.ok and not r.usage_reported for r in good),
    )


@dataclass(frozen=True)
class SweepConfig:
    prompt_tokens: int
    completion_tokens: int
    max_concurrency: int = 64
    step_seconds: float | None = 30.0
    step_requests: int | None = None
    max_requests: int = 2000
    max_seconds: float = 900.0
    latency_slo: float | None = None
    stream: bool | None = None  # None: use streaming when the server supports it
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.step_seconds is None and self.step_requests is None:
            raise MeasureError("give --step-seconds or --step-requests (or both) to bound each step")


@dataclass
class SweepResult:
    endpoint: str
    model: str
    config: SweepConfig
    streaming: bool = False
    usage_in_stream: bool = False
    calibration: Calibration | None = None
    steps: list[StepResult] = field(default_factory=list)
    stop_reason: str = ""
    interrupted: bool = False
    requests_sent: int = 0
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def capacity(self) -> StepResult | None:
        """The highest sustained rate among steps with no errors and p95 within the SLO."""
        fit = [s for s in self.steps if s.meets(self.config.latency_slo)]
        return max(fit, key=lambda s: s.requests_per_second) if fit else None

    def to_dict(self) -> dict:
        cap = self.capacity
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "streaming": self.streaming,
            "usage_in_stream": self.usage_in_stream,
            "workload": {"prompt_tokens": self.config.prompt_tokens,
                         "completion_tokens": self.config.completion_tokens},
            "prompt_calibration": self.calibration.to_dict() if self.calibration else None,
            "latency_slo_s": self.config.latency_slo,
            "steps": [s.to_dict() for s in self.steps],
            "capacity": None if cap is None else {
                "requests_per_second": round(cap.requests_per_second, 4),
                "concurrency": cap.concurrency,
                "p95_latency_s": round(cap.latency.p95, 4) if cap.latency else None,
                "output_tokens_per_second": round(cap.output_tokens_per_second, 2),
                "requests_per_day": round(cap.requests_per_second * 86_400),
            },
            "stop_reason": self.stop_reason,
            "interrupted": self.interrupted,
            "requests_sent": self.requests_sent,
            "elapsed_s": round(self.elapsed, 2),
            "notes": self.notes,
        }


class _Budget:
    """The total request cap, shared by probes and steps."""

    def __init__(self, max_requests: int):
        self.max_requests = max_requests
        self.sent = 0

    def take(self) -> bool:
        if self.sent >= self.max_requests:
            return False
        self.sent += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.sent >= self.max_requests


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or json.dumps(err)
        if err is not None:
            return str(err)[:200]
    return json.dumps(data)[:200]


class ChatClient:
    """One request at a time against the endpoint; never raises for a failed request, it records it."""

    def __init__(self, endpoint: Endpoint, http: httpx.AsyncClient):
        self.endpoint = endpoint
        self.http = http

    def _body(self, prompt: str, max_tokens: int, stream: bool, include_usage: bool,
              ignore_eos: bool) -> dict:
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
        }
        if stream:
            body["stream"] = True
            if include_usage:
                body["stream_options"] = {"include_usage": True}
        if ignore_eos:
            body["ignore_eos"] = True  # vLLM and llama.cpp extension: keep generating up to max_tokens
        return body

    async def send(self, prompt: str, max_tokens: int, *, stream: bool, include_usage: bool = True,
                   ignore_eos: bool = False) -> RequestResult:
        body = self._body(prompt, max_tokens, stream, include_usage, ignore_eos)
        start = time.perf_counter()
        try:
            if stream:
                return await self._stream(body, start)
            response = await self.http.post(self.endpoint.url, json=body)
            if response.status_code != 200:
                return self._failed(response, start)
            return self._parse_json(response, start)
        except httpx.ConnectError as exc:
            return RequestResult(False, time.perf_counter() - start, error=f"connection failed: {exc}",
                                 connect_failed=True)
        except httpx.ConnectTimeout:
            return RequestResult(False, time.perf_counter() - start, error="connect timed out",
                                 connect_failed=True)
        except httpx.TimeoutException:
            return RequestResult(False, time.perf_counter() - start,
                                 error=f"timed out after {self.endpoint.timeout:g} s")
        except httpx.HTTPError as exc:
            return RequestResult(False, time.perf_counter() - start,
                                 error=self.endpoint.redact(f"{type(exc).__name__}: {exc}"))
        except (ValueError, KeyError, TypeError) as exc:
            return RequestResult(False, time.perf_counter() - start,
                                 error=self.endpoint.redact(f"unreadable response: {exc}"[:200]))

    def _failed(self, response: httpx.Response, start: float) -> RequestResult:
        message = self.endpoint.redact(_error_message(response))
        return RequestResult(False, time.perf_counter() - start, status=response.status_code,
                             error=f"HTTP {response.status_code}: {message}")

    def _parse_json(self, response: httpx.Response, start: float) -> RequestResult:
        data = response.json()
        end = time.perf_counter()
        usage = data.get("usage") or {}
        completion = usage.get("completion_tokens")
        if completion is None:
            text = ((data.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
            completion = len(text.split())  # a rough stand-in when the server reports no usage
        return RequestResult(True, end - start, None, usage.get("prompt_tokens"), completion,
                             usage_reported="completion_tokens" in usage, status=200)

    async def _stream(self, body: dict, start: float) -> RequestResult:
        async with self.http.stream("POST", self.endpoint.url, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                return self._failed(response, start)
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()  # the server ignored `stream`: an ordinary JSON reply
                result = self._parse_json(response, start)
                result.status = 0
                return result
            first: float | None = None
            chunks = 0
            usage: dict = {}
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    # Read on to the end of the body (not break): an unfinished response closes the
                    # connection, and reconnecting for every request would skew what is measured.
                    continue
                if first is not None and '"prompt_tokens"' not in payload and '"error"' not in payload:
                    # After the first token only the usage block and errors matter, and neither can hide in
                    # generated text (its quotes arrive escaped). Not parsing the rest keeps this client from
                    # becoming the bottleneck at thousands of chunks a second.
                    chunks += 1
                    continue
                chunk = json.loads(payload)
                if chunk.get("error"):
                    err = chunk["error"]
                    message = err.get("message") if isinstance(err, dict) else str(err)
                    return RequestResult(False, time.perf_counter() - start, status=200,
                                         error=self.endpoint.redact(f"error in stream: {message}"[:200]))
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning"):
                        chunks += 1
                        if first is None:
                            first = time.perf_counter()
                if chunk.get("usage"):
                    usage = chunk["usage"]
            end = time.perf_counter()
        reported = "completion_tokens" in usage
        return RequestResult(True, end - start, None if first is None else first - start,
                             usage.get("prompt_tokens"), usage["completion_tokens"] if reported else chunks,
                             usage_reported=reported, status=200)


def probe_error(endpoint: Endpoint, result: RequestResult) -> MeasureError:
    """Turn a failed probe into the message the user needs."""
    url = endpoint.shown_url
    if result.connect_failed:
        return MeasureError(
            f"cannot reach {url} ({result.error}): is the server running, and is --base-url right?"
        )
    if result.status in (401, 403):
        return MeasureError(
            f"authentication failed (HTTP {result.status}) at {url}: check --api-key "
            "(or BREAKEVEN_MEASURE_API_KEY)"
        )
    if result.status == 404:
        return MeasureError(
            f"HTTP 404 at {url} ({result.error}): check --model and that --base-url ends where the "
            "OpenAI-compatible API starts (usually /v1)"
        )
    return MeasureError(f"the probe request to {url} failed: {result.error}")


async def _until(stop: asyncio.Event, awaitable: Awaitable[T]) -> T:
    """Await `awaitable` unless `stop` is set first; then cancel it and raise Interrupted."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Interrupted()
    return task.result()


class Sweep:
    def __init__(self, endpoint: Endpoint, config: SweepConfig, progress: Progress, stop: asyncio.Event,
                 seed: int | None = None):
        self.endpoint = endpoint
        self.config = config
        self.progress = progress
        self.stop = stop
        self.rng = random.Random(seed)
        self.budget = _Budget(config.max_requests)
        self.result = SweepResult(endpoint.shown_url, endpoint.model, config)
        self.words = config.prompt_tokens
        self.include_usage = True

    def prompt(self) -> str:
        return make_prompt(self.words, self.rng)

    async def run(self, http: httpx.AsyncClient) -> SweepResult:
        started = time.perf_counter()
        self.deadline = started + self.config.max_seconds
        client = ChatClient(self.endpoint, http)
        try:
            await self._prepare(client)
            await self._sweep(client)
        except Interrupted:
            self.result.interrupted = True
            self.result.stop_reason = "interrupted"
        self.result.requests_sent = self.budget.sent
        self.result.elapsed = time.perf_counter() - started
        return self.result

    async def _probe(self, client: ChatClient, prompt: str, max_tokens: int, stream: bool,
                     include_usage: bool = True) -> RequestResult:
        if not self.budget.take():
            raise MeasureError(
                f"--max-requests {self.config.max_requests} is used up before the sweep could start; raise it"
            )
        return await _until(self.stop, client.send(prompt, max_tokens, stream=stream,
                                                    include_usage=include_usage))

    async def _prepare(self, client: ChatClient) -> None:
        cfg = self.config
        self.progress(f"probing {self.endpoint.shown_url} (model {self.endpoint.model})")
        first = await self._probe(client, make_prompt(8, self.rng), 1, stream=False)
        if not first.ok:
            raise probe_error(self.endpoint, first)

        async def count(words: int) -> int | None:
            probe = await self._probe(client, make_prompt(words, self.rng), 1, stream=False)
            if not probe.ok:
                raise probe_error(self.endpoint, probe)
            return probe.prompt_tokens

        calibration = await calibrate(cfg.prompt_tokens, count)
        self.result.calibration = calibration
        self.words = calibration.words
        self.progress(
            f"prompts: {calibration.words} random words = {calibration.measured_tokens or '?'} prompt tokens "
            f"(target {cfg.prompt_tokens}; {calibration.method}, {calibration.probes} probes)"
        )
        measured = calibration.measured_tokens
        if measured is not None and abs(measured - cfg.prompt_tokens) > max(4, 0.05 * cfg.prompt_tokens):
            self.result.notes.append(
                f"prompts come out at {measured} tokens, not {cfg.prompt_tokens}: the chat template and "
                f"instruction alone are about {calibration.overhead_tokens:.0f} tokens"
            )
        if cfg.stream is False:
            self.result.streaming = False
            return
        probe = await self._probe(client, self.prompt(), 4, stream=True)
        if not probe.ok and probe.status == 400:
            # Older servers reject stream_options; stream without usage and count chunks instead.
            probe = await self._probe(client, self.prompt(), 4, stream=True, include_usage=False)
            self.include_usage = False
        streams = probe.ok and probe.status == 200
        if not streams and cfg.stream:
            raise MeasureError(f"--stream was given but streaming failed at {self.endpoint.shown_url}: "
                               f"{probe.error or 'the server answered with plain JSON'}")
        self.result.streaming = streams
        self.result.usage_in_stream = streams and probe.usage_reported
        if streams and not probe.usage_reported:
            self.result.notes.append("the stream carries no usage: output tokens are counted as chunks")
        if not streams:
            self.result.notes.append("the server does not stream: time to first token is not measured")
        self.progress("streaming: " + ("yes, measuring time to first token" if streams else "no"))

    async def _sweep(self, client: ChatClient) -> None:
        cfg = self.config
        concurrency = 1
        best = 0.0
        while True:
            now = time.perf_counter()
            if self.budget.exhausted:
                self.result.stop_reason = f"request cap reached (--max-requests {cfg.max_requests})"
                return
            if now >= self.deadline or (cfg.step_requests is None and cfg.step_seconds is not None
                                        and self.deadline - now < cfg.step_seconds):
                self.result.stop_reason = f"time cap reached (--max-seconds {cfg.max_seconds:g})"
                return
            step = await self._step(client, concurrency)
            self.result.steps.append(step)
            self.progress(_step_line(step))
            if self.stop.is_set():
                raise Interrupted()
            if step.cancelled:
                self.result.stop_reason = f"time cap (--max-seconds {cfg.max_seconds:g}) cut a step short"
                return
            if step.errors:
                self.result.stop_reason = f"errors at concurrency {concurrency}"
                return
            if cfg.latency_slo is not None and step.latency and step.latency.p95 > cfg.latency_slo:
                self.result.stop_reason = (
                    f"p95 latency {step.latency.p95:.3f} s exceeds the {cfg.latency_slo:g} s SLO "
                    f"at concurrency {concurrency}"
                )
                return
            if best and step.requests_per_second < best * (1 + MIN_GAIN):
                self.result.stop_reason = (
                    f"throughput stopped rising (under +{MIN_GAIN:.0%} at concurrency {concurrency})"
                )
                return
            best = max(best, step.requests_per_second)
            if concurrency >= cfg.max_concurrency:
                self.result.stop_reason = f"--max-concurrency {cfg.max_concurrency} reached"
                return
            concurrency = min(concurrency * 2, cfg.max_concurrency)

    async def _step(self, client: ChatClient, concurrency: int) -> StepResult:
        cfg = self.config
        bounds = [f"{cfg.step_seconds:g} s"] if cfg.step_seconds is not None else []
        bounds += [f"{cfg.step_requests} requests"] if cfg.step_requests is not None else []
        self.progress(f"concurrency {concurrency}: running for " + " or ".join(bounds))
        results: list[RequestResult] = []
        started = time.perf_counter()
        issue_until = min(started + (cfg.step_seconds if cfg.step_seconds is not None else math.inf),
                          self.deadline)
        quota = [cfg.step_requests if cfg.step_requests is not None else math.inf]
        last_end = [started]

        async def worker() -> None:
            while not self.stop.is_set() and time.perf_counter() < issue_until and quota[0] > 0:
                if not self.budget.take():
                    return
                quota[0] -= 1
                result = await client.send(self.prompt(), cfg.completion_tokens, stream=self.result.streaming,
                                           include_usage=self.include_usage, ignore_eos=cfg.ignore_eos)
                result.ended = last_end[0] = time.perf_counter()
                results.append(result)

        workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
        stopper = asyncio.ensure_future(self.stop.wait())
        ticker = asyncio.ensure_future(self._tick(concurrency, results, started))
        try:
            pending = set(workers)
            while pending and not self.stop.is_set():
                remaining = self.deadline - time.perf_counter()
                if remaining <= 0:
                    break
                _, pending = await asyncio.wait(pending | {stopper}, timeout=remaining,
                                                return_when=asyncio.FIRST_COMPLETED)
                pending.discard(stopper)
        finally:
            stopper.cancel()
            ticker.cancel()
            cut = [w for w in workers if not w.done()]
            for w in cut:
                w.cancel()
            await asyncio.gather(*workers, ticker, stopper, return_exceptions=True)
        ended = last_end[0] if not cut else time.perf_counter()
        return summarize(concurrency, results, started, ended, cancelled=len(cut))

    async def _tick(self, concurrency: int, results: list[RequestResult], started: float,
                    every: float = 7.0) -> None:
        while True:
            await asyncio.sleep(every)
            errors = sum(1 for r in results if not r.ok)
            self.progress(f"  ... concurrency {concurrency}: {time.perf_counter() - started:.0f} s, "
                          f"{len(results) - errors} done, {errors} errors")


def _step_line(step: StepResult) -> str:
    lat = f"p95 {step.latency.p95:.3f} s" if step.latency else "no successful requests"
    line = (f"concurrency {step.concurrency}: {step.requests_per_second:.2f} req/s, "
            f"{step.output_tokens_per_second:.1f} output tok/s, {lat}, {step.errors} errors")
    if step.error_samples:
        line += f" (e.g. {step.error_samples[0]})"
    if step.cancelled:
        line += f", {step.cancelled} cut off"
    return line


async def run_sweep(endpoint: Endpoint, config: SweepConfig, progress: Progress, stop: asyncio.Event,
                    seed: int | None = None) -> SweepResult:
    """Probe, calibrate and sweep. Raises MeasureError for problems the user must fix."""
    connections = config.max_concurrency + 2
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    async with httpx.AsyncClient(
        headers=headers,
        timeout=httpx.Timeout(endpoint.timeout, connect=min(10.0, endpoint.timeout)),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
    ) as http:
        return await Sweep(endpoint, config, progress, stop, seed).run(http)
