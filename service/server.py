"""Running the WSGI app under gunicorn from our own command line (no separate config file to ship)."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
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


# Named here rather than imported from service.metrics: importing that module imports prometheus_client,
# which must happen only after this variable is set (service/metrics.py explains).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_hooks() -> dict:
    """Prepares prometheus-client's multiprocess mode in the master, before any worker is forked: every
    process then writes its metrics to files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up. Without
    an operator's folder, a fresh one is made and removed on exit (leftover files would count again)."""
    owned = None
    if not os.environ.get(MULTIPROC_ENV):
        owned = tempfile.mkdtemp(prefix="breakeven-metrics-")
        os.environ[MULTIPROC_ENV] = owned

    def child_exit(server, worker) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    def on_exit(server) -> None:
        if owned:
            shutil.rmtree(owned, ignore_errors=True)

    return {"child_exit": child_exit, "on_exit": on_exit}


def _chained(first: Callable | None, then: Callable) -> Callable:
    if first is None:
        return then

    # gunicorn checks a hook's number of arguments; wraps() gives `both` the signature of `first`.
    @functools.wraps(first)
    def both(*args) -> None:
        try:
            first(*args)
        finally:
            then(*args)

    return both


def gunicorn_options(host: str, port: int, workers: int, threads: int, **hooks) -> dict:
    for name, hook in metrics_hooks().items():
        hooks[name] = _chained(hooks.get(name), hook)
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
