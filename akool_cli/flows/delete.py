"""Deleting jobs at the service: the request, the history marked, and what a retried delete means.

One home for `akool delete` and MCP's plan_delete/execute_plan; neither prints here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from akool_cli.api.models import DeleteResult
    from akool_cli.flows.deps import Deps


@dataclass
class Deleted:
    wanted: list[str]
    result: "DeleteResult"
    # Refused because the service no longer has them, and this machine deleted them before: a retry.
    already: set[str]

    @property
    def not_deleted(self) -> list[str]:
        return [i for i in self.wanted if i not in self.result.success_ids and i not in self.already]

    @property
    def busy(self) -> bool:
        """A refusal says the video is still being made (it can be deleted once it has finished)."""
        missing = set(self.not_deleted)
        return any("process" in r.msg.lower() for r in self.result.refused if r.id in missing)


def delete_jobs(deps: "Deps", wanted: list[str]) -> Deleted:
    history = deps.history()
    result = deps.client().delete(wanted)
    history.mark_deleted(result.success_ids)
    already = {r.id for r in result.refused if (e := history.get(r.id)) is not None and e.deleted}
    return Deleted(wanted, result, already)
