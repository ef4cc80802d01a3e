"""Group commit: concurrent submissions share one write and each gets its own results or the shared failure."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.group_commit import GroupCommitter


def test_concurrent_submissions_share_writes_and_get_their_own_results():
    writes = []
    gate = threading.Event()

    def write(items):
        gate.wait(5)  # hold the first write so that the others queue up behind it
        writes.append(list(items))
        return [item * 10 for item in items]

    committer = GroupCommitter(write)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(committer.submit, [i, i + 100]) for i in range(8)]
        gate.set()
        results = [f.result(10) for f in futures]
    assert results == [[i * 10, (i + 100) * 10] for i in range(8)]
    assert sum(len(w) for w in writes) == 16
    assert len(writes) < 8  # some submissions were committed together


def test_a_failed_write_fails_every_request_that_shared_it_and_the_next_write_works():
    calls = []

    def write(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return list(items)

    committer = GroupCommitter(write)
    with pytest.raises(RuntimeError, match="disk full"):
        committer.submit([1])
    assert committer.submit([2, 3]) == [2, 3]
