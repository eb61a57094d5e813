"""Typed errors. Each carries the exit code it ends the program with and a one-line hint."""

from __future__ import annotations

from akool_cli.core.exit_codes import ExitCode


class AkoolError(Exception):
    """`reason` names what went wrong for the hint table (output.hints): code below the CLI raises a
    reason, never a command line to type; the CLI (or MCP) turns it into advice in its own words."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class UsageError(AkoolError):
    exit_code = ExitCode.USAGE


class ConfigError(AkoolError):
    exit_code = ExitCode.USAGE


class AuthError(AkoolError):
    exit_code = ExitCode.AUTH


class ApiError(AkoolError):
    """The service answered with a business code other than 1000."""

    exit_code = ExitCode.API

    def __init__(self, code: int, msg: str, hint: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(f"API error {code}: {msg}", hint, reason=reason)
        self.code = code
        self.msg = msg


class ApiAuthError(ApiError):
    exit_code = ExitCode.AUTH


class TransportError(AkoolError):
    """Network trouble or an answer that is not the API's envelope."""

    exit_code = ExitCode.NETWORK

    def __init__(self, message: str, hint: str | None = None, *, retryable: bool = False,
                 retry_after: float | None = None, sent: bool = True, reason: str | None = None) -> None:
        super().__init__(message, hint, reason=reason)
        self.retryable = retryable
        self.retry_after = retry_after
        # False only when we know no byte of the request reached the server.
        self.sent = sent


class OutcomeUnknownError(AkoolError):
    exit_code = ExitCode.OUTCOME_UNKNOWN


class JobFailedError(AkoolError):
    exit_code = ExitCode.JOB_FAILED


class WaitTimeoutError(AkoolError):
    exit_code = ExitCode.WAIT_TIMEOUT
    pending: list[str] = []  # the ids still running, for the caller's resume hint


class PartialError(AkoolError):
    exit_code = ExitCode.PARTIAL


class Interrupted(AkoolError):
    """A stopping signal ended the command: exit 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, hint: str | None = None, *, signum: int | None = None) -> None:
        super().__init__(message, hint)
        if signum is not None:
            self.exit_code = ExitCode(128 + int(signum))


class Declined(AkoolError):
    exit_code = ExitCode.DECLINED



class NotFoundError(AkoolError):
    """Ids the service does not know: deleted, mistyped, or made with other credentials."""

    exit_code = ExitCode.NOT_FOUND


class OverBudgetError(AkoolError):
    exit_code = ExitCode.OVER_BUDGET


class OverBalanceError(AkoolError):
    exit_code = ExitCode.OVER_BALANCE


class PriceChangedError(AkoolError):
    exit_code = ExitCode.PRICE_CHANGED


class ExpiringError(AkoolError):
    """`akool sync`: something paid for will be lost soon unless it is saved."""

    exit_code = ExitCode.EXPIRING


class Refused(Exception):
    """Raised in place of sending a paid request, which was therefore not sent: the spending guard halted
    (pricing.budget), another process claimed the row, or a stop came while waiting for a slot (store).
    Not an AkoolError on purpose: it is never a user's error, only "this one was not sent"."""
