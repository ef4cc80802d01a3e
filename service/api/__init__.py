"""HTTP API: one blueprint module per resource."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from service.api import health, runs, usage

    for module in (health, runs, usage):
        app.register_blueprint(module.bp)
