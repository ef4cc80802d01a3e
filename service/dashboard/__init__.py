"""The dashboard at `GET /`: a page that draws the JSON API's data in the browser.

The page and its scripts carry no data, so they are served without a key; every figure is fetched from /v1
with the key the user enters once, kept in the tab's sessionStorage (gone when the tab closes, never sent
anywhere but this service, never in a URL). The chart library is Chart.js from npm, installed next to this
file by `npm ci` (see package.json) and served from node_modules: no CDN, nothing vendored into the repo.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template, send_file

from service.errors import ApiError

HERE = Path(__file__).resolve().parent
CHART_JS = HERE / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
INSTALL_HINT = "the chart library is not installed: run `make install` (or `npm ci` in service/dashboard)"

# The page loads nothing from elsewhere and runs no inline script, so a strict policy costs nothing and
# keeps injected markup (a model name, a verdict) from running code.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

bp = Blueprint(
    "dashboard",
    __name__,
    static_folder="static",
    static_url_path="/dashboard/static",
    template_folder="templates",
)


@bp.after_request
def _page_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/")
def index():
    """The dashboard page (no data in it: the browser fetches /v1 with the user's key)."""
    return render_template("dashboard.html", chart_installed=CHART_JS.is_file())


@bp.get("/dashboard/vendor/chart.js")
def chart_js():
    """Chart.js, served from the npm install."""
    if not CHART_JS.is_file():
        raise ApiError(404, "not_installed", INSTALL_HINT)
    return send_file(CHART_JS, mimetype="text/javascript", max_age=3600)
