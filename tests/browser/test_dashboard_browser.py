"""The dashboard in a real headless Chromium against a live server with 90 days of backfilled runs."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from tests.conftest import BREAKEVEN, FULL, FULL_KEY, INGEST, LiveServer, settings_env
from tests.receiver import start_receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BIG, SMALL = "llama-3.3-70b-versatile", "llama-3.1-8b-instant"
# Retrieval-heavy prompts on the built-in catalogue: 40,000 + 800 tokens cost $0.024232 each on Groq, and the
# built-in A40 plan costs $9.36 a day, so the break-even is 386.3 prompts a day (one replica serves 3,456),
# near enough to the backfilled traffic to show the approaching band and a crossing date.
BIG_TOKENS = (40_000, 800)
BREAKEVEN_BIG = 0.39 * 24 / ((40_000 * 0.59 + 800 * 0.79) / 1e6)


def big_model_count(days_ago: int) -> int:
    """Growing traffic with quieter weekends: about 60 prompts a day 90 days ago, about 370 yesterday."""
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    base = 60 + 3.5 * (90 - days_ago)
    return int(base * (0.8 if day.weekday() >= 5 else 1.0))


def backfill(server: LiveServer) -> dict[tuple[str, str], int]:
    """Posts the runs of the last 90 complete days in batches; returns the count per (model, day)."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    counts: dict[tuple[str, str], int] = {}
    pending: list[dict] = []
    session = requests.Session()

    def flush() -> None:
        response = session.post(server.url + "/v1/runs", json={"runs": pending}, headers=INGEST, timeout=60)
        assert response.status_code == 200 and response.json()["created"] == len(pending), response.text[:300]
        pending.clear()

    for days_ago in range(90, 0, -1):
        when = noon - timedelta(days=days_ago)
        plan = [(BIG, big_model_count(days_ago), *BIG_TOKENS)]
        if days_ago <= 30:
            plan.append((SMALL, 20 + days_ago % 5, 1200, 300))
        for model, count, prompt, completion in plan:
            counts[(model, when.date().isoformat())] = count
            for i in range(count):
                pending.append(
                    {
                        "id": f"{model}-{days_ago}-{i}",
                        "model": model,
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "occurred_at": (when + timedelta(seconds=i)).isoformat(),
                        "workflow_id": "support-bot",
                    }
                )
                if len(pending) == 1000:
                    flush()
    if pending:
        flush()
    return counts


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    env = settings_env(f"sqlite:///{tmp / 'breakeven.sqlite'}", tmp)
    server = LiveServer(env, tmp, workers=2).start()
    receiver = start_receiver()
    try:
        counts = backfill(server)
        subscribed = requests.post(
            server.url + "/v1/webhooks",
            json={"url": receiver.url, "description": "ops channel"},
            headers=FULL,
            timeout=10,
        )
        assert subscribed.status_code == 201
        # `breakeven check` evaluates the backfilled models, raises their alerts and delivers them.
        checked = subprocess.run([BREAKEVEN, "check"], env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stderr
        assert receiver.wait_for(1)
        yield server, counts
    finally:
        receiver.close()
        server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    page.problems = problems
    yield page
    context.close()


def chart_data(page, selector: str) -> dict:
    """What Chart.js drew into the canvas: labels, each dataset's data, and how much of the canvas is painted."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const chart = Chart.getChart(canvas);
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
            return {
                labels: chart.data.labels,
                datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data})),
                painted: painted / (canvas.width * canvas.height),
                width: canvas.width,
                height: canvas.height,
            };
        }""",
        selector,
    )


def test_dashboard_shows_backfilled_usage_and_the_calculator_works(dashboard_server, page, artifacts):
    server, counts = dashboard_server
    status = requests.get(server.url + "/v1/breakeven", params={"model": BIG}, headers=FULL, timeout=10).json()
    assert status["breakeven_prompts_per_day"] == pytest.approx(BREAKEVEN_BIG, abs=0.01)

    page.goto(server.url + "/")
    # Without a key the page shows no usage at all.
    assert page.inner_text("#models-message") == "Enter a key to see your usage."
    assert page.locator("article.model").count() == 0

    page.fill("#key-input", FULL_KEY)
    page.click("#key-save")
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    assert page.evaluate("() => sessionStorage.getItem('breakeven.apiKey')") == FULL_KEY
    assert page.evaluate("() => localStorage.length") == 0, "the key must not outlive the tab"

    cards = page.locator("article.model")
    assert cards.count() == 2
    # The model nearing its break-even comes first.
    assert cards.first.get_attribute("data-model") == BIG
    big = page.locator(f"article.model[data-model='{BIG}']")
    assert big.locator(".verdict").inner_text() == status["verdict"]
    assert big.locator(".badge").inner_text().lower() == status["level"].replace("_", " ")
    inputs = big.locator("table.inputs").inner_text()
    assert "https://groq.com/pricing/" in inputs and "as of 2026-09-01" in inputs
    assert "llama-3.3-70b-on-a40" in inputs and "runpod" in inputs.lower()

    slug = f"groq-{BIG}".replace(".", "-")
    prompts = chart_data(page, f"#prompts-{slug}")
    today = date.fromisoformat(status["as_of"][:10])
    days = [(today - timedelta(days=90 - i)).isoformat() for i in range(90)]  # complete days, oldest first
    assert prompts["labels"][:90] == days
    drawn = {d["label"].split(" ")[0]: d["data"] for d in prompts["datasets"]}
    assert drawn["Prompts"][:90] == [counts.get((BIG, day), 0) for day in days]
    level = status["breakeven_prompts_per_day"]
    assert drawn["Break-even"] == [pytest.approx(level)] * len(prompts["labels"])
    assert drawn["Approaching"] == [pytest.approx(0.8 * level)] * len(prompts["labels"])
    assert status["forecast_date"], "the backfilled trend rises towards the break-even"
    assert prompts["labels"][-1] == status["forecast_date"]
    trend = [v for v in drawn["Trend"] if v is not None]
    assert trend[-1] == pytest.approx(status["breakeven_prompts_per_day"], rel=0.02)
    assert prompts["painted"] > 0.05, "the canvas is blank"

    cost = chart_data(page, f"#cost-{slug}")
    usage = requests.get(
        server.url + "/v1/usage",
        params={"group_by": "day", "model": BIG, "start": days[0], "end": days[-1]},
        headers=FULL,
        timeout=10,
    ).json()
    api_cost, selfhost_cost = (d["data"] for d in cost["datasets"])
    assert api_cost == [row["cost_usd"] for row in usage["rows"]]
    assert selfhost_cost == [pytest.approx(0.39 * 24)] * len(days)
    assert cost["painted"] > 0.02

    alerts = page.locator("#alerts tbody tr")
    assert alerts.count() >= 1
    assert "delivered after 1 attempt" in page.locator("#alerts").inner_text()

    # The worked example: Groq at $0.59/M input, 5,000-token prompts, an A40 at $0.39/h, capacity unchecked.
    page.select_option("#calc-model", "")
    page.select_option("#calc-plan", "")
    figures = {
        "input_per_m": "0.59",
        "output_per_m": "0",
        "cached_input_per_m": "",
        "prompt_tokens": "5000",
        "cached_tokens": "0",
        "completion_tokens": "0",
        "gpu_hourly": "0.39",
        "ops_per_day": "0",
    }
    for name, value in figures.items():
        page.fill(f"#calc-form input[name='{name}']", value)
    page.uncheck("#calc-capacity")
    page.click("#calc-submit")
    page.wait_for_selector("#calc-result:not([hidden])")
    assert page.inner_text("#calc-breakeven") == "3,173 prompts/day"
    assert "Capacity unchecked" in page.inner_text("#calc-summary")

    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    (artifacts.parent / "docs").mkdir(exist_ok=True)
    shutil.copyfile(artifacts / "dashboard.png", artifacts.parent / "docs" / "dashboard.png")

    assert page.problems == []


def test_calculator_prefilled_from_the_catalogue_needs_no_logged_data(browser, tmp_path):
    """The team that has not logged a run yet: an empty ledger, the form filled from the catalogue."""
    env = settings_env(f"sqlite:///{tmp_path / 'breakeven.sqlite'}", tmp_path)
    server = LiveServer(env, tmp_path, workers=1).start()
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto(server.url + "/")
        page.fill("#key-input", FULL_KEY)
        page.click("#key-save")
        page.wait_for_selector("body[data-ready='true']")
        assert "No runs logged yet" in page.inner_text("#models-message")
        # Prefilled: the first current (not retired) catalogue model with a plan, and that plan's GPU and workload.
        catalogue = requests.get(server.url + "/v1/catalogue", headers=FULL, timeout=10).json()
        model = next(m for m in catalogue["models"] if m["plan"] and not m["retired"])
        plan = next(p for p in catalogue["plans"] if p["name"] == model["plan"])
        assert page.input_value("#calc-model") == f"{model['provider']}/{model['model']}"
        assert page.input_value("#calc-plan") == plan["name"]
        assert float(page.input_value("#calc-form input[name='input_per_m']")) == model["input_per_m"]
        assert float(page.input_value("#calc-form input[name='output_per_m']")) == model["output_per_m"]
        assert float(page.input_value("#calc-form input[name='gpu_hourly']")) == plan["gpu_hourly"]
        assert float(page.input_value("#calc-form input[name='prompt_tokens']")) == plan["workload"]["prompt_tokens"]
        assert page.is_checked("#calc-capacity") == (plan["requests_per_second"] is not None)
        page.click("#calc-submit")
        page.wait_for_selector("#calc-result:not([hidden])")
        expected = requests.post(
            server.url + "/v1/breakeven/calc",
            json={"api": {"provider": model["provider"], "model": model["model"]}, "selfhost": {"plan": plan["name"]}},
            headers=FULL,
            timeout=10,
        ).json()
        shown = page.inner_text("#calc-breakeven")
        if expected["verdict"] == "never":
            assert shown == "Never breaks even"
        else:
            assert shown == f"{expected['breakeven_prompts_per_day_rounded']:,} prompts/day"
        assert page.inner_text("#calc-summary") == expected["summary"]

        # A bad figure is named by the server and marked in the form.
        page.fill("#calc-form input[name='gpu_hourly']", "-1")
        page.click("#calc-submit")
        page.wait_for_selector("#calc-form input[name='gpu_hourly'][aria-invalid='true']")
        assert "selfhost.gpu_hourly" in page.inner_text("#calc-error")

        # A wrong key is refused and forgotten; nothing is shown.
        page.click("#key-forget")
        page.fill("#key-input", "not-a-key")
        page.click("#key-save")
        page.wait_for_selector("body[data-ready='error']")
        assert "refused" in page.inner_text("#key-status")
        assert page.evaluate("() => sessionStorage.getItem('breakeven.apiKey')") is None
        # Chromium reports every non-2xx fetch on the console: exactly the two refusals provoked above.
        assert len(problems) == 2, problems
        assert "status of 422" in problems[0] and "status of 401" in problems[1]
    finally:
        context.close()
        server.stop()
