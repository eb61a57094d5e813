"""What a flow may use: the few dependencies the shell hands it, and nothing of the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from akool_cli.api.client import AkoolClient
    from akool_cli.api.uploads import Uploader
    from akool_cli.flows.events import Events
    from akool_cli.store.history import History


@dataclass
class Deps:
    """Built once per command by the shell (`App.deps()`). `client`, `history` and `uploader` are
    called when needed: a flow that never sends never builds a client. `command` renders a free
    command to continue with (`akool --profile x status --wait ID`), so that a flow's errors name
    it without knowing how this program is invoked."""

    client: "Callable[[], AkoolClient]"
    history: "Callable[[], History]"
    uploader: "Callable[[], Uploader]"
    setting: Callable[[str], Any]
    events: "Events"
    command: Callable[..., str]
    profile: str
    base_url: str
    is_loopback: bool
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
