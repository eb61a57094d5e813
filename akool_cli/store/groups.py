"""Group commit: many threads' small writes in one transaction, each caller released after its commit.

A webhook listener answers each callback only once its update is on disk; one fsync a callback under
one lock caps it at a few hundred a second. Here the first waiting write starts a group, every write
that arrives while the previous group commits joins the next one, and one transaction covers them all:
throughput follows the number of concurrent senders, latency stays one commit.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class _Slot(Generic[T]):
    __slots__ = ("item", "done", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        # Held until the group holding the item is written; the writer releases it. A bare lock, not an
        # Event: an Event is a Condition and two locks, and this is made and waited on once a callback.
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """`submit(item)` blocks until `write(items)` has committed a group holding it (or raises what the
    write raised: the caller must answer that its item was not recorded). At most `limit` items a group."""

    def __init__(self, write: Callable[[list[T]], None], limit: int = 256) -> None:
        self.write = write
        self.limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Slot[T]] = []
        self._writing = False

    def submit(self, item: T) -> None:
        slot = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            leader = not self._writing
            if leader:
                self._writing = True
        if leader:
            self._lead()
        slot.done.acquire()
        if slot.error is not None:
            raise slot.error

    def _lead(self) -> None:
        """The thread that found nobody writing writes groups until the queue is empty."""
        while True:
            with self._lock:
                group, self._queue = self._queue[:self.limit], self._queue[self.limit:]
                if not group:
                    self._writing = False
                    return
            try:
                self.write([slot.item for slot in group])
            except BaseException as exc:  # noqa: BLE001 - every caller of the group learns it failed
                for slot in group:
                    slot.error = exc
            for slot in group:
                slot.done.release()
