"""HTTP API: one blueprint module per resource."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from service.api import alerts, breakeven, catalogue, health, runs, usage, webhooks

    for module in (health, runs, usage, breakeven, webhooks, alerts, catalogue):
        app.register_blueprint(module.bp)
