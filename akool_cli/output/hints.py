"""Advice for an error, keyed by Akool's business code and by the `reason` the lower layers raise.

The one home of "what to do about it": the HTTP client and the flows raise coded errors without command
lines; the CLI completes the hint here (with `command`, which renders this program's invocation with the
right profile flags), and MCP can word the same facts for an agent.
"""

from __future__ import annotations

from typing import Callable

from akool_cli.api.models import RESOURCE_TTL_TEXT
from akool_cli.core.errors import AkoolError, ApiError

Command = Callable[..., str]

CODE_HINTS: dict[int, Callable[[Command], str]] = {
    1003: lambda c: "a parameter is missing or invalid; check the flags (see --help)",
    1008: lambda c: f"that content does not exist; check the id ({c('history')} lists your jobs)",
    1009: lambda c: "no permission; 10 s videos, --premium and Pro models need a Pro plan or above",
    1010: lambda c: "you cannot operate this content (it belongs to another account or team)",
    1015: lambda c: f"the service could not create the video; the request was NOT sent again: check "
                    f"'{c('history')}' and try again later",
    1109: lambda c: f"the API key is invalid; log in again with: {c('auth', 'login')}",
    1101: lambda c: f"the key or token is invalid or expired; log in again with: {c('auth', 'login')}",
    1102: lambda c: f"no credentials were sent; run {c('auth', 'login')} or set AKOOL_API_KEY",
    1200: lambda c: "this Akool account has been banned; contact Akool support",
}

REASON_HINTS: dict[str, Callable[[Command], str]] = {
    "ledger-unusable": lambda c: f"check the server and ledger.url ({c('ledger', 'status')}); nothing was sent",
    "not-the-api": lambda c: f"check base_url ({c('config', 'get', 'base_url')}) or try again later",
    # The id never arrived, so neither `status` nor `history` can show the job: say what can.
    "created-unknown": lambda c: "it was NOT sent again; the service may have made the job without sending its id, "
                                 "so no listing here can show it: look in Akool's web console for a job created in "
                                 "the last minutes (with this image) before sending it again",
    "file-gone": lambda c: f"the link may have expired ({RESOURCE_TTL_TEXT}); check with: {c('status')}",
    "no-credentials": lambda c: f"run: {c('auth', 'login')} (or set AKOOL_API_KEY)",
    "bad-client-credentials": lambda c: f"check the client id and secret: {c('auth', 'login', '--client-id', 'ID')}",
    "cannot-connect": lambda c: f"check your network and base_url ({c('config', 'get', 'base_url')})",
    "timeout": lambda c: f"try again later or raise the timeout: {c('config', 'set', 'timeout', '60')}",
}


def advice(error: AkoolError, command: Command) -> str | None:
    """The table's advice for this error, if it has any."""
    if error.reason in REASON_HINTS:
        return REASON_HINTS[error.reason](command)
    if isinstance(error, ApiError) and error.code in CODE_HINTS:
        return CODE_HINTS[error.code](command)
    return None


def complete(error: AkoolError, command: Command) -> AkoolError:
    """The error with the table's advice first, then whatever the command added (the free way on)."""
    base = advice(error, command)
    if base and base not in (error.hint or ""):
        error.hint = f"{base}; {error.hint}" if error.hint else base
    return error
