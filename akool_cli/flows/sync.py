"""`akool sync`: bring the history up to date with the service, the safety net before files expire.

Jobs made with `--no-wait` or `--quiet` finish after their command ended: the history still says
queueing. A sync asks the service about every unfinished job of this base URL (one request per 500 ids),
records the answers, and says which completed videos are not saved yet and when they expire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from akool_cli.api.models import Job
from akool_cli.flows.wait import fetch_jobs

if TYPE_CHECKING:
    from akool_cli.flows.deps import Deps


@dataclass
class SyncResult:
    asked: list[str] = field(default_factory=list)  # ids the service was asked about
    answered: list[Job] = field(default_factory=list)
    unsaved: list[str] = field(default_factory=list)  # completed, paid, not saved, not expired (soonest first)


def sync(deps: "Deps", within_hours: float | None = None) -> SyncResult:
    """Refresh every unfinished job of this base URL, then list the completed ones not saved yet
    (`within_hours`: only those whose files expire within that many hours)."""
    history = deps.history()
    now = deps.clock()
    result = SyncResult(asked=history.unfinished(deps.base_url, now))
    if result.asked:
        result.answered = fetch_jobs(deps.client(), result.asked)
        history.update_from_jobs(result.answered)
    result.unsaved = history.unsaved(deps.base_url, now, within_hours)
    return result
