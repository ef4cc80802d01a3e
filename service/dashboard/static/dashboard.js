// The dashboard: fetches /v1 with the key from sessionStorage and draws it. Text from the API is always set
// with textContent, never as HTML.
"use strict";

(function () {
  const KEY_STORAGE = "breakeven.apiKey";
  const HISTORY_DAYS = 90;
  const FORECAST_MAX_DAYS = 90; // the chart stops here; a later crossing date is stated in words
  const COLORS = {
    prompts: "#2563eb",
    breakeven: "#dc2626",
    band: "rgba(245, 158, 11, 0.22)",
    bandEdge: "#f59e0b",
    forecast: "#7c3aed",
    api: "#2563eb",
    selfhost: "#059669",
  };
  const num = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const num2 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
  const usd6 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 6 });

  const $ = (id) => document.getElementById(id);
  const charts = [];
  let catalogue = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function chartsAvailable() {
    return typeof window.Chart === "function";
  }

  function showBanner(text) {
    const banner = $("banner");
    banner.textContent = text;
    banner.hidden = false;
  }

  // ---- key ------------------------------------------------------------------------------------------------

  function getKey() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  }

  function setKey(key) {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    $("key-input").value = "";
    $("key-input").placeholder = key ? "key in use" : "bk_...";
    $("key-forget").hidden = !key;
  }

  class ApiError extends Error {
    constructor(status, body) {
      const detail = body && body.error ? body.error.message : "HTTP " + status;
      super(detail);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, options) {
    const key = getKey();
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = "Bearer " + key;
    if (options && options.body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { ...(options || {}), headers, cache: "no-store" });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  function keyProblem(error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      setKey("");
      $("key-status").textContent = "The service refused that key (" + error.message + "). Enter a full key.";
      return true;
    }
    return false;
  }

  // ---- dates ----------------------------------------------------------------------------------------------

  function addDays(isoDay, days) {
    const d = new Date(isoDay + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 86400000);
  }

  function dayRange(start, end) {
    const days = [];
    for (let d = start; d <= end; d = addDays(d, 1)) days.push(d);
    return days;
  }

  // ---- models ---------------------------------------------------------------------------------------------

  // The same least-squares line the service fits through the counted days (status.history); drawn from the
  // first counted day to the crossing date the service reports.
  function trendLine(history, today) {
    if (history.length < 2) return null;
    const xs = history.map((h) => daysBetween(today, h.day));
    const ys = history.map((h) => h.prompts);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxx = 0;
    let sxy = 0;
    xs.forEach((x, i) => {
      sxx += (x - mx) ** 2;
      sxy += (x - mx) * (ys[i] - my);
    });
    if (sxx === 0) return null;
    const slope = sxy / sxx;
    return (day) => my + slope * (daysBetween(today, day) - mx);
  }

  function selfhostCostForVolume(calculation, ops, prompts) {
    // DESIGN.md section 1: whole replicas for the day's volume (one when capacity is unchecked), plus ops.
    const capacity = calculation.capacity_prompts_per_day;
    const replicas = capacity ? Math.max(1, Math.ceil(prompts / capacity - 1e-9)) : 1;
    return replicas * calculation.replica_cost_per_day + ops;
  }

  function lineDataset(label, data, color, extra) {
    return {
      type: "line",
      label,
      data,
      borderColor: color,
      backgroundColor: color,
      pointRadius: 0,
      borderWidth: 2,
      spanGaps: false,
      ...(extra || {}),
    };
  }

  function drawChart(canvas, config) {
    if (!chartsAvailable()) return null;
    const chart = new window.Chart(canvas, config);
    charts.push(chart);
    return chart;
  }

  function chartOptions(yTitle) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 14, sort: (a, b) => a.datasetIndex - b.datasetIndex } },
      },
      scales: {
        x: { ticks: { maxTicksLimit: 10, maxRotation: 0 } },
        y: { beginAtZero: true, title: { display: true, text: yTitle } },
      },
    };
  }

  function promptsChart(canvas, status, rows, thresholds) {
    const today = status.as_of.slice(0, 10);
    const start = rows.length ? rows[0].day : addDays(today, -HISTORY_DAYS);
    const breakeven = status.breakeven_prompts_per_day;
    let end = addDays(today, -1);
    if (status.forecast_date) end = status.forecast_date <= addDays(today, FORECAST_MAX_DAYS)
      ? status.forecast_date : addDays(today, FORECAST_MAX_DAYS);
    const labels = dayRange(start, end);
    const byDay = new Map(rows.map((r) => [r.day, r.prompts]));
    const prompts = labels.map((d) => (d < today ? byDay.get(d) || 0 : null));
    const datasets = [
      { type: "bar", label: "Prompts per day", data: prompts, backgroundColor: COLORS.prompts, order: 3 },
    ];
    if (breakeven !== null) {
      const low = thresholds.warn_ratio * breakeven;
      datasets.push(
        lineDataset("Approaching (" + Math.round(thresholds.warn_ratio * 100) + "% of break-even)",
          labels.map(() => low), COLORS.bandEdge, { borderDash: [4, 4], borderWidth: 1, order: 2 }),
        lineDataset("Break-even " + num.format(breakeven) + "/day", labels.map(() => breakeven), COLORS.breakeven,
          { fill: "-1", backgroundColor: COLORS.band, order: 1 }),
      );
      const trend = status.forecast_date ? trendLine(status.history, today) : null;
      if (trend) {
        const first = status.history[0].day;
        const crossing = status.forecast_date;
        datasets.push(lineDataset("Trend to " + crossing, labels.map((d) => (d >= first && d <= crossing
          ? Math.max(0, trend(d)) : null)), COLORS.forecast, { borderDash: [6, 3], order: 0 }));
      }
    }
    const chart = drawChart(canvas, { type: "bar", data: { labels, datasets }, options: chartOptions("prompts/day") });
    canvas.dataset.days = String(labels.length);
    canvas.dataset.total = String(prompts.reduce((a, b) => a + (b || 0), 0));
    return chart;
  }

  function costChart(canvas, status, rows) {
    const calc = status.calculation;
    const ops = status.inputs.selfhost.ops_per_day;
    const labels = rows.map((r) => r.day);
    const apiCost = rows.map((r) => r.cost_usd);
    const selfhost = rows.map((r) => selfhostCostForVolume(calc, ops, r.prompts));
    const chart = drawChart(canvas, {
      type: "line",
      data: {
        labels,
        datasets: [
          lineDataset("API cost (USD/day)", apiCost, COLORS.api, { pointRadius: 1 }),
          lineDataset("Self-host cost (USD/day)", selfhost, COLORS.selfhost, { stepped: true }),
        ],
      },
      options: chartOptions("USD/day"),
    });
    canvas.dataset.days = String(labels.length);
    canvas.dataset.total = apiCost.reduce((a, b) => a + b, 0).toFixed(6);
    return chart;
  }

  function sourceLine(label, text, source, asOf) {
    return el("tr", {}, el("th", { text: label }), el("td", {}, text,
      el("div", { className: "source" }, "Source: ", sourceLink(source), asOf ? ", as of " + asOf : "")));
  }

  function sourceLink(source) {
    if (/^https?:\/\//.test(source || "")) return el("a", { href: source, rel: "noreferrer", target: "_blank", text: source });
    return source || "(none given)";
  }

  function inputsTable(status) {
    const { api: a, selfhost: s, workload: w } = status.inputs;
    const capacity = status.calculation.capacity_checked
      ? num.format(status.calculation.capacity_prompts_per_day) + " prompts/day per replica"
      : "unchecked (no requests/s in the plan)";
    return el("table", { className: "facts inputs" },
      sourceLine("API price", `${a.provider}/${a.model}: $${a.input_per_m}/M input, $${a.cached_input_per_m}/M cached, `
        + `$${a.output_per_m}/M output`, a.source, a.as_of),
      sourceLine("GPU", `${s.gpus_per_replica}x ${s.gpu || "GPU"} at $${s.gpu_hourly}/h, always on`, s.gpu_source,
        s.gpu_as_of),
      sourceLine("Plan", `${s.plan}: ${capacity}, max utilization ${Math.round(s.max_utilization * 100)}%, `
        + `ops ${usd.format(s.ops_per_day)}/day`, s.plan_source, s.plan_as_of),
      el("tr", {}, el("th", { text: "Workload" }), el("td", {},
        `${num.format(w.prompt_tokens)} prompt (${num.format(w.cached_tokens)} cached) + `
        + `${num.format(w.completion_tokens)} completion tokens per prompt`,
        el("div", { className: "source", text: "Source: " + w.source }))),
    );
  }

  function modelCard(status, rows, thresholds) {
    const slug = (status.provider + "-" + status.model).replace(/[^A-Za-z0-9]+/g, "-");
    const prompts = el("canvas", { id: "prompts-" + slug, className: "chart-prompts", role: "img",
      "aria-label": "Daily prompts of " + status.model + " against the break-even" });
    const cost = el("canvas", { id: "cost-" + slug, className: "chart-cost", role: "img",
      "aria-label": "Daily API cost against self-host cost for " + status.model });
    const figures = el("div", { className: "figures" },
      figure("Daily prompts", status.daily_prompts === null ? "–" : num2.format(status.daily_prompts),
        `mean of the last ${status.window_days} complete days`),
      figure("Break-even", status.breakeven_prompts_per_day === null ? "never"
        : num.format(status.breakeven_prompts_per_day), "prompts/day"),
      figure("Today", num.format(status.prompts_today), "prompts so far"),
      figure("Crossing", status.forecast_date || "–", "at the current trend"),
    );
    const card = el("article", { className: "model level-" + status.level, "data-model": status.model,
      "data-provider": status.provider },
      el("header", {}, el("h3", { text: status.provider + "/" + status.model }),
        el("span", { className: "badge " + status.level, text: status.level.replace("_", " ") })),
      el("p", { className: "verdict", text: status.verdict }),
      ...status.warnings.map((w) => el("p", { className: "warning", text: "Note: " + w })),
      figures,
      el("div", { className: "charts" },
        el("figure", {}, el("figcaption", { text: "Daily prompts, last " + HISTORY_DAYS + " complete days" }),
          el("div", { className: "chart-box" }, prompts)),
        el("figure", {}, el("figcaption", { text: "API cost vs self-host cost per day" }),
          el("div", { className: "chart-box" }, cost))),
      el("details", { open: true }, el("summary", { text: "Inputs used, with sources" }), inputsTable(status)),
    );
    $("models").append(card);
    promptsChart(prompts, status, rows, thresholds);
    costChart(cost, status, rows);
  }

  function figure(label, value, note) {
    return el("div", { className: "figure" }, el("div", { className: "label", text: label }),
      el("div", { className: "value", text: value }), el("div", { className: "note", text: note }));
  }

  async function loadModels() {
    const models = $("models");
    charts.splice(0).forEach((c) => c.destroy());
    models.replaceChildren();
    $("models-message").textContent = "Loading…";
    const all = await api("/v1/breakeven");
    const thresholds = catalogue.thresholds;
    if (!all.models.length) {
      $("models-message").textContent = "No runs logged yet. The calculator below works without any.";
      return;
    }
    $("models-message").textContent = "";
    // The models that need a decision first.
    const urgency = ["reached", "approaching", "ok", "no_data", "never", "unchecked"];
    const ordered = [...all.models].sort((a, b) => urgency.indexOf(a.level) - urgency.indexOf(b.level));
    for (const status of ordered) {
      if (status.level === "unchecked") {
        models.append(el("article", { className: "model" }, el("h3", { text: status.provider + "/" + status.model }),
          el("p", { className: "verdict", text: status.verdict })));
        continue;
      }
      // Complete days only: today's partial count is shown as a figure, not as a short last bar.
      const today = status.as_of.slice(0, 10);
      const query = new URLSearchParams({ group_by: "day", provider: status.provider, model: status.model,
        start: addDays(today, -HISTORY_DAYS), end: addDays(today, -1) });
      const usage = await api("/v1/usage?" + query.toString());
      modelCard(status, usage.rows, thresholds);
    }
    document.body.dataset.modelsLoaded = String(all.models.length);
  }

  // ---- alerts ---------------------------------------------------------------------------------------------

  async function loadAlerts() {
    const { alerts } = await api("/v1/alerts?limit=20");
    const table = $("alerts");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    if (!alerts.length) {
      $("alerts-message").textContent = "No alerts yet.";
      table.hidden = true;
      return;
    }
    $("alerts-message").textContent = "";
    table.hidden = false;
    for (const alert of alerts) {
      const deliveries = alert.deliveries.length
        ? alert.deliveries.map((d) => el("div", { className: "delivery " + d.status },
          `${d.status} after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`
          + (d.last_status_code ? ` (HTTP ${d.last_status_code})` : "")
          + (d.last_error ? ` – ${d.last_error}` : "") + ` → ${d.url}`))
        : [el("span", { className: "muted", text: "no receivers" })];
      body.append(el("tr", {},
        el("td", { text: alert.created_at.slice(0, 16).replace("T", " ") + " UTC" }),
        el("td", {}, el("span", { className: "badge " + alert.type.split(".").pop(), text: alert.type })),
        el("td", { text: alert.model + (alert.plan ? " (" + alert.plan + ")" : "") }),
        el("td", {}, ...deliveries)));
    }
  }

  // ---- calculator -----------------------------------------------------------------------------------------

  function field(name) {
    return $("calc-form").elements.namedItem(name);
  }

  function setField(name, value) {
    field(name).value = value === null || value === undefined ? "" : String(value);
  }

  function fillFromModel() {
    const chosen = $("calc-model").value;
    const price = catalogue && catalogue.models.find((m) => m.provider + "/" + m.model === chosen);
    if (!price) return;
    setField("input_per_m", price.input_per_m);
    setField("output_per_m", price.output_per_m);
    setField("cached_input_per_m", price.cached_input_per_m);
    if (price.plan) {
      $("calc-plan").value = price.plan;
      fillFromPlan();
    }
  }

  function fillFromPlan() {
    const plan = catalogue && catalogue.plans.find((p) => p.name === $("calc-plan").value);
    if (!plan) return;
    setField("gpu_hourly", plan.gpu_hourly);
    setField("gpus_per_replica", plan.gpus_per_replica);
    setField("max_utilization", plan.max_utilization ?? 0.8);
    setField("ops_per_day", plan.ops_per_day ?? 0);
    setField("requests_per_second", plan.requests_per_second);
    $("calc-capacity").checked = plan.requests_per_second !== null;
    syncCapacity();
    if (plan.workload) {
      setField("prompt_tokens", plan.workload.prompt_tokens);
      setField("completion_tokens", plan.workload.completion_tokens);
    }
  }

  function syncCapacity() {
    field("requests_per_second").disabled = !$("calc-capacity").checked;
  }

  function fillCatalogue() {
    const models = $("calc-model");
    const plans = $("calc-plan");
    models.length = 1; // keep the "your own" choice; the rest is this catalogue's
    plans.length = 1;
    for (const m of catalogue.models) {
      const label = `${m.provider}/${m.model} ($${m.input_per_m} in / $${m.output_per_m} out)`;
      models.append(el("option", { value: m.provider + "/" + m.model, text: label }));
    }
    for (const p of catalogue.plans) {
      plans.append(el("option", { value: p.name, text: `${p.name} ($${p.gpu_hourly}/h)` }));
    }
    const first = catalogue.models.find((m) => m.plan && !m.retired) || catalogue.models.find((m) => m.plan);
    if (first && !field("input_per_m").value) {
      models.value = first.provider + "/" + first.model;
      fillFromModel();
    }
  }

  function calcBody() {
    const body = { api: {}, workload: {}, selfhost: {} };
    for (const input of $("calc-form").querySelectorAll("input[data-part]")) {
      if (input.disabled || input.value.trim() === "") continue;
      body[input.dataset.part][input.name] = Number(input.value);
    }
    return body;
  }

  function showCalcError(error) {
    for (const input of $("calc-form").querySelectorAll("input")) input.removeAttribute("aria-invalid");
    const details = (error.body && error.body.error && error.body.error.details) || [];
    for (const d of details) {
      const input = field(String(d.field).split(".").pop());
      if (input) input.setAttribute("aria-invalid", "true");
    }
    $("calc-error").textContent = error.message;
  }

  async function calculate(event) {
    event.preventDefault();
    $("calc-error").textContent = "";
    if (!getKey()) {
      $("calc-error").textContent = "Enter an API key first (top right).";
      return;
    }
    let result;
    try {
      result = await api("/v1/breakeven/calc", { method: "POST", body: JSON.stringify(calcBody()) });
    } catch (error) {
      if (!keyProblem(error)) showCalcError(error);
      return;
    }
    for (const input of $("calc-form").querySelectorAll("input")) input.removeAttribute("aria-invalid");
    $("calc-breakeven").textContent = result.verdict === "never"
      ? "Never breaks even"
      : num.format(result.breakeven_prompts_per_day_rounded) + " prompts/day";
    $("calc-summary").textContent = result.summary;
    const facts = [
      ["API cost per prompt", usd6.format(result.api_cost_per_prompt)],
      ["Replica cost per day", usd.format(result.replica_cost_per_day)],
      ["Capacity per replica", result.capacity_checked
        ? num.format(result.capacity_prompts_per_day) + " prompts/day" : "unchecked"],
    ];
    if (result.verdict === "breaks_even") {
      facts.push(
        ["Replicas", String(result.replicas)],
        ["Self-host cost", usd.format(result.selfhost_cost_per_day) + "/day, "
          + usd.format(result.selfhost_cost_per_month) + "/month"],
        ["API cost at break-even", usd.format(result.api_cost_per_month_at_breakeven) + "/month"],
      );
    }
    $("calc-facts").replaceChildren(...facts.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v }))));
    $("calc-result").hidden = false;
    $("calc-result").dataset.verdict = result.verdict;
  }

  // ---- start ----------------------------------------------------------------------------------------------

  async function load() {
    if (!getKey()) {
      $("models-message").textContent = "Enter a key to see your usage.";
      $("alerts-message").textContent = "Enter a key to see alerts.";
      return;
    }
    $("key-forget").hidden = false;
    $("key-input").placeholder = "key in use";
    try {
      catalogue = await api("/v1/catalogue");
      fillCatalogue();
      await Promise.all([loadModels(), loadAlerts()]);
      document.body.dataset.ready = "true";
    } catch (error) {
      if (!keyProblem(error)) {
        $("models-message").textContent = "Could not load: " + error.message;
      }
      document.body.dataset.ready = "error";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!chartsAvailable() && $("banner").hidden) {
      showBanner("Charts unavailable: the chart library did not load. Run `make install` (npm ci in "
        + "service/dashboard) and reload; figures and the calculator still work.");
    }
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      if (!key) return;
      setKey(key);
      $("key-status").textContent = "Key kept for this tab only.";
      load();
    });
    $("key-forget").addEventListener("click", () => {
      setKey("");
      $("models").replaceChildren();
      $("alerts").hidden = true;
      $("calc-result").hidden = true;
      delete document.body.dataset.ready;
      load();
    });
    $("calc-model").addEventListener("change", fillFromModel);
    $("calc-plan").addEventListener("change", fillFromPlan);
    $("calc-capacity").addEventListener("change", syncCapacity);
    $("calc-form").addEventListener("submit", calculate);
    load();
  });
})();
