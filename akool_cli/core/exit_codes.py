"""The exit codes every command uses: the one definition scripts can rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    AUTH = 3
    API = 4
    JOB_FAILED = 5
    WAIT_TIMEOUT = 6
    PARTIAL = 7
    NETWORK = 8
    OUTCOME_UNKNOWN = 9
    DECLINED = 10
    NOT_FOUND = 11
    OVER_BUDGET = 12
    OVER_BALANCE = 13
    PRICE_CHANGED = 14
    EXPIRING = 15
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error (a bug: please report it with --verbose output)",
    ExitCode.USAGE: "bad usage or bad input: flags, files, config; nothing was sent",
    ExitCode.AUTH: "authentication failed: missing, invalid or expired credentials, or banned account",
    ExitCode.API: "the API answered with a business error code (see the message)",
    ExitCode.JOB_FAILED: "a job finished with status failed",
    ExitCode.WAIT_TIMEOUT: "gave up waiting (--timeout); the job goes on and is in the history",
    ExitCode.PARTIAL: "partial success: some items worked, some did not",
    ExitCode.NETWORK: "network or server trouble (timeouts, HTTP 429/5xx, malformed answers) after retries",
    ExitCode.OUTCOME_UNKNOWN: "a paid request may or may not have reached the server; check before retrying",
    ExitCode.DECLINED: "you answered no (or closed the input) at a prompt; nothing was sent",
    ExitCode.NOT_FOUND: "the service does not know some of the ids asked about (each is named on stderr)",
    ExitCode.OVER_BUDGET: "the high estimate is above --max-credits, max_credits or a daily/monthly cap; nothing (more) was sent",
    ExitCode.OVER_BALANCE: "the estimate is above the account's credit balance; nothing was sent",
    ExitCode.PRICE_CHANGED: "a job cost more than estimated, or the next request could cross the budget; the rest were not sent",
    ExitCode.EXPIRING: "sync: a paid, completed video expires within --expiring-within hours and is not saved",
    ExitCode.HANGUP: "stopped by SIGHUP (the terminal closed); paid jobs are kept in the history",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, once or twice); paid jobs are kept in the history",
    ExitCode.TERMINATED: "stopped by SIGTERM (CI cancel, timeout, docker stop); paid jobs are kept in the history",
}
