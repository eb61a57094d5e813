"""How a flow tells the world what happens while it runs, without printing.

A flow calls `events.info(...)`, `events.polling(label)` and so on; the CLI's renderer is one implementation
(spinners, progress bars, stderr lines), `Collector` another (MCP's tool results, tests). Like pdm's
reporters: the flow decides *what* happened, the implementation decides *how* it is shown.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator, Protocol

if TYPE_CHECKING:
    from akool_cli.api.models import Job
    from akool_cli.core.errors import AkoolError

PollUpdate = Callable[["dict[str, Job]", float], None]  # latest jobs, seconds elapsed
Transfer = tuple[Callable[["int | None"], None], Callable[[int], None]]  # (on_start(total), on_chunk(size))


class Events(Protocol):
    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def error(self, error: "AkoolError") -> None: ...

    def polling(self, label: str) -> ContextManager[PollUpdate]: ...

    def transfer(self, label: str) -> ContextManager[Transfer]: ...


class Collector:
    """Events kept as data: what an agent reads in a tool result, what a seam test asserts on."""

    def __init__(self, on_poll: PollUpdate | None = None) -> None:
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.errors: list["AkoolError"] = []
        self.ticks = 0
        self.on_poll = on_poll  # each poll's jobs, as they come (MCP turns them into progress notifications)

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, error: "AkoolError") -> None:
        self.errors.append(error)

    @contextmanager
    def polling(self, label: str) -> Iterator[PollUpdate]:
        def update(jobs: "dict[str, Job]", elapsed: float) -> None:
            self.ticks += 1
            if self.on_poll is not None:
                self.on_poll(jobs, elapsed)
        yield update

    @contextmanager
    def transfer(self, label: str) -> Iterator[Transfer]:
        yield (lambda total: None), (lambda size: None)
