"""Running the WSGI app under gunicorn from our own command line (no separate config file to ship)."""

from __future__ import annotations

from collections.abc import Callable

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """gunicorn with the app built by the factory in each worker, so that every worker owns its connection
    pool (a pool must never cross a fork)."""

    def __init__(self, app_factory: Callable, options: dict):
        self._factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._factory()


def gunicorn_options(host: str, port: int, workers: int, threads: int, **hooks) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "breakeven",
        # gunicorn 27 opens a control socket at one fixed path per user; several servers would fight over it.
        "control_socket_disable": True,
        **hooks,
    }
