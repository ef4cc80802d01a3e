"""Group commit: concurrent requests' runs share one write transaction.

A single-run POST spends most of its database time on transaction overhead (taking the write lock, the commit,
statement set-up). When several requests arrive together, one thread writes all of their runs in one
transaction and answers each request only after that commit, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_ITEMS_PER_COMMIT = 5000


class GroupCommitter(Generic[Item, Result]):
    def __init__(self, write: Callable[[list[Item]], list[Result]]):
        self._write = write
        self._pending: list[tuple[Sequence[Item], Future]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, items: Sequence[Item]) -> list[Result]:
        """Blocks until the items are committed (with whatever else was waiting) and returns their results,
        in order; a failed transaction raises its exception in every request that shared it."""
        done: Future = Future()
        with self._wake:
            self._pending.append((items, done))
            if self._thread is None:
                # Started on first use, so that it lives in the process that serves (never across a fork).
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
            self._wake.notify()
        return done.result()

    def _take(self) -> list[tuple[Sequence[Item], Future]]:
        with self._wake:
            while not self._pending:
                self._wake.wait()
            taken, count = [], 0
            while self._pending and (not taken or count + len(self._pending[0][0]) <= MAX_ITEMS_PER_COMMIT):
                items, done = self._pending.pop(0)
                taken.append((items, done))
                count += len(items)
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            flat = [item for items, _ in taken for item in items]
            try:
                results = self._write(flat)
            except BaseException as exc:  # every waiting request must hear about the failure
                for _, done in taken:
                    done.set_exception(exc)
                continue
            offset = 0
            for items, done in taken:
                done.set_result(results[offset : offset + len(items)])
                offset += len(items)
