"""What a paid command's result means, in words: the errors and warnings that name what exists and the free
command that goes on. Flows return facts (a `PayResult`, a `SubmitReport`); this module is where they become
sentences, so the wording lives in one place and every door (CLI, MCP) says the same thing.

`command(*args)` renders an invocation of this program (profile flags included): it is handed in by the shell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from akool_cli.core.errors import (
    AkoolError,
    Interrupted,
    OutcomeUnknownError,
    OverBudgetError,
    PartialError,
    PriceChangedError,
    TransportError,
)

if TYPE_CHECKING:
    from akool_cli.flows.pay import PayResult
    from akool_cli.flows.submit import SubmitReport

Command = Callable[..., str]


def price_notes(result: "PayResult") -> list[str]:
    """Any charge different from the estimate, said once per price key."""
    notes = []
    for _key, charged, low, high in result.guard.price_seen:
        expected = f"{low}" if low == high else f"{low}-{high}"
        notes.append(f"charged {charged} credits a video where {expected} were estimated; the next estimate "
                     "for the same settings uses what you were charged")
    return notes


def halted_error(command: Command, result: "PayResult", output: str | None, go_on: str | None,
                 follow: str | None = None) -> AkoolError | None:
    """The guard stopped sending: one error that says why, what exists, and the free way on (`follow`:
    a journaled run's own free command, instead of one that names every job)."""
    from akool_cli.pricing.budget import HALT_BUDGET, HALT_CAP, HALT_PRICE, HALT_UNREACHABLE, HALT_UNRECORDED

    report, guard = result.report, result.guard
    if guard.halt is None and guard.crossed:  # a lone job billed above its estimate, past the budget
        ids = [job.id for job in report.jobs]
        return PriceChangedError(
            f"the budget of {guard.caps.max_credits} was crossed: {guard.spent} credits charged where "
            f"{result.estimate.describe()} were estimated ({result.estimate.sources})",
            hint=f"job(s) {_some(ids)} are in the history; continue (free) with: "
                 f"{follow or continue_command(command, ids, output)}")
    if guard.halt is None or (not report.not_sent and guard.halt != HALT_UNRECORDED and not guard.crossed):
        return None
    ids = [job.id for job in report.jobs]
    held = (f"{len(report.not_sent)} request(s) were not sent: " + _some(list(dict.fromkeys(
        s.source for s in report.not_sent)))) if report.not_sent else "nothing else was sent"
    way_on = follow or continue_command(command, ids, output)
    have = f"job(s) {_some(ids)} are in the history; continue (free) with: {way_on}" if ids else "no job was created"
    if guard.halt == HALT_UNRECORDED:
        return OutcomeUnknownError(f"{guard.detail}; nothing more was sent; {held}",
                                   hint=f"note the id(s) {_some(ids, 50)}; follow them (free) with: {way_on}; "
                                        "then free the disk or fix the history file before paying for more")
    estimate = result.estimate
    if guard.halt == HALT_UNREACHABLE:  # nothing changed about the price: going on needs no flag
        again = go_on.replace(" --accept-price-change", "") if go_on else None
        return TransportError(f"stopped: {guard.detail}; {held}", reason="cannot-connect",
                              hint=have + (f"; once it answers, go on with: {again}" if again else ""))
    if guard.halt == HALT_CAP:
        return OverBudgetError(f"stopped at {guard.detail}; {held}", hint=have)
    spent = f"{guard.spent_here} credits charged so far"
    extra = f"; to go on at the new price (only what was not sent): {go_on}" if go_on else ""
    limit = guard.caps.max_credits
    if limit is not None and guard.crossed:
        spent += f"; the budget of {limit} was crossed by {guard.spent - limit}"
    if guard.halt == HALT_PRICE:
        return PriceChangedError(f"{guard.detail} ({estimate.sources}); {held}; {spent}", hint=have + extra)
    assert guard.halt == HALT_BUDGET
    return PriceChangedError(f"stopped before crossing the budget: {guard.detail}; {held}", hint=have + extra)


def _some(items: list[str], shown: int = 5) -> str:
    """A few of many (a 100,000-row run's unsent rows are counted, not listed)."""
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def stopped_error(command: Command, report: "SubmitReport", output: str | None,
                  follow: str | None = None) -> Interrupted:
    """A signal stopped the submission: what exists, what was not sent, what may exist, the free way on
    (`follow`: a journaled run's own command; a run of 100,000 rows is counted, not listed)."""
    from akool_cli.core.signals import label as signal_label

    label = signal_label(report.stopped or 2)
    ids = [job.id for _, job in report.created]
    parts = [f"{label} while submitting"]
    parts.append(f"{len(ids)} paid job(s) are in the history ({_some(ids)})" if ids else "no job was created")
    if report.not_sent:
        parts.append(f"{len(report.not_sent)} image(s) were not sent: " + _some([s.source for s in report.not_sent]))
    if report.in_doubt:
        parts.append(f"{len(report.in_doubt)} request(s) got no answer and may have created jobs: "
                     + ", ".join(s.source for s in report.in_doubt))  # at most --concurrency: each one said
    hint = f"continue (free) with: {follow or continue_command(command, ids, output)}" if ids else None
    stopped = Interrupted("; ".join(parts), hint=hint, signum=report.stopped)
    stopped.reason = "created-unknown" if report.in_doubt else None
    return stopped


def continue_command(command: Command, ids: list[str], output: str | None) -> str:
    """The free command that picks up where a paid command stopped: wait, and save with -o."""
    if output:
        return command("status", "--wait", *ids, "-o", output)
    return command("status", "--wait", *ids)


def worst_error(report: "SubmitReport") -> AkoolError:
    """One error for a submission's failures. An outcome we cannot know (exit 9) wins over all."""
    total = len(report.created) + len(report.unrecorded) + len(report.errors) + len(report.in_doubt)
    if report.outcome_unknown:
        unknown = [e for _, e in report.errors if isinstance(e, OutcomeUnknownError)]
        if len(report.errors) == 1 and unknown and not report.created and not report.unrecorded:
            return unknown[0]
        return OutcomeUnknownError(
            f"{len(report.errors) + len(report.unrecorded) + len(report.in_doubt)} of {total} paid request(s) "
            "may have created jobs the history cannot account for; nothing was sent again",
            reason="created-unknown")
    if not report.created and len(report.errors) == 1:
        return report.errors[0][1]
    return PartialError(f"{len(report.errors)} of {total} video(s) were not created",
                        hint="the others are in the history; see the errors above")


