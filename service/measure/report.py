"""The human-readable report of a sweep."""

from __future__ import annotations

from service.measure.loadgen import Percentiles, StepResult, SweepResult

HEADERS = ["concurrency", "requests", "errors", "req/s", "out tok/s", "TTFT p50", "TTFT p95", "TTFT p99",
           "latency p50", "latency p95", "latency p99", ""]


def _seconds(value: float) -> str:
    return f"{value:.3f}" if value < 100 else f"{value:.1f}"


def _triple(p: Percentiles | None) -> list[str]:
    return ["-"] * 3 if p is None else [_seconds(p.p50), _seconds(p.p95), _seconds(p.p99)]


def _mark(step: StepResult, result: SweepResult, capacity: StepResult | None) -> str:
    if step is capacity:
        return "<- capacity"
    if not step.complete:
        return "cut off"
    if step.errors:
        return "errors"
    slo = result.config.latency_slo
    if slo is not None and step.latency and step.latency.p95 > slo:
        return "p95 > SLO"
    return ""


def step_table(result: SweepResult) -> str:
    capacity = result.capacity
    rows = [
        [str(s.concurrency), str(s.ok), str(s.errors), f"{s.requests_per_second:.2f}",
         f"{s.output_tokens_per_second:.1f}", *_triple(s.ttft), *_triple(s.latency),
         _mark(s, result, capacity)]
        for s in result.steps
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    lines = []
    for row in [HEADERS, *rows]:
        cells = [cell.rjust(w) for cell, w in zip(row[:-1], widths[:-1], strict=True)]
        lines.append(("  ".join(cells) + "  " + row[-1]).rstrip())
    return "\n".join(lines)


def render(result: SweepResult, workload_source: str) -> str:
    cfg = result.config
    out = [f"endpoint: {result.endpoint}, model {result.model}, "
           + ("streaming" if result.streaming else "not streaming (no time to first token)")]
    cal = result.calibration
    prompt_note = ""
    if cal is not None:
        counted = f"server counted {cal.measured_tokens}" if cal.measured_tokens is not None else cal.method
        prompt_note = f"; prompts are {cal.words} random words ({counted})"
    out.append(f"workload: {cfg.prompt_tokens} prompt + {cfg.completion_tokens} completion tokens "
               f"({workload_source}){prompt_note}")
    out.append("latency SLO: " + (f"p95 <= {cfg.latency_slo:g} s" if cfg.latency_slo is not None else "none"))
    out.append("")
    if result.steps:
        out.append("times in seconds")
        out.append(step_table(result))
    else:
        out.append("no step was measured")
    out.append("")
    capacity = result.capacity
    if capacity is not None and capacity.latency is not None:
        out.append(
            f"capacity: {capacity.requests_per_second:.3g} requests/s per replica at concurrency "
            f"{capacity.concurrency} (p95 latency {capacity.latency.p95:.3f} s, "
            f"{capacity.output_tokens_per_second:.0f} output tokens/s)"
        )
        out.append(
            f"          = {capacity.requests_per_second * 86_400:,.0f} requests/day flat out; breakeven calc "
            "plans on max_utilization (0.8 by default) of that"
        )
        replies = capacity.mean_completion_tokens
        if replies is not None and replies < 0.9 * cfg.completion_tokens:
            out.append(
                f"warning: replies averaged {replies:.0f} of the {cfg.completion_tokens} "
                "requested tokens (the model stopped early), so this rate is for shorter replies; "
                "--ignore-eos makes vLLM and llama.cpp servers generate every token"
            )
    elif result.steps:
        why = "within the latency SLO" if cfg.latency_slo is not None else "without errors"
        out.append(f"capacity: not found: no complete step ran {why}")
    if result.stop_reason:
        out.append(f"stopped: {result.stop_reason}")
    out.append(f"requests sent: {result.requests_sent} (probes included) in {result.elapsed:.1f} s")
    out.extend(f"note: {note}" for note in result.notes)
    return "\n".join(out)
