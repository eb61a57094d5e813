"""Budgets: what one command (or one MCP session) may spend, and a profile's daily and monthly caps.

The guard is asked by every paid request just before it leaves and told what each answer was charged.
It holds three rules, in this order:

1. The probe: the first request of each price key in this command goes alone (nothing else on the
   wire), and nothing follows it until its bill is known; after it, that key's price is what was
   charged. A bill above the estimate's high figure stops the run (unless the user accepted price
   changes). So a budget is crossed by at most one probe job's difference, even when the price
   changed since this profile was last charged.
2. `max_credits`: charged so far + the high figure of every request on the wire + this one must fit.
3. `budget.daily` / `budget.monthly`: the history's charges in the window plus every live
   reservation (any process of the profile) plus this one must fit; the room is reserved in the
   history in one transaction and released once the request's jobs are recorded.

A refusal halts the guard: nothing more is sent, and `halt` says why.
"""

from __future__ import annotations

import calendar
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from akool_cli.core.errors import Refused  # noqa: F401 - raised here, at home in core (the store raises it too)

if TYPE_CHECKING:
    from akool_cli.store.history import History

# A reservation outlives a crashed process for this long, keeping the cap conservative meanwhile.
RESERVATION_SECONDS = 3600.0

# Why the guard stopped sending.
HALT_BUDGET = "budget"  # the next request could cross max_credits
HALT_PRICE = "price"  # a probe was charged more than the high estimate
HALT_CAP = "cap"  # a daily or monthly cap (shared by every process of the profile)
HALT_UNRECORDED = "unrecorded"  # a paid job could not be written to the history
HALT_UNREACHABLE = "unreachable"  # several requests in a row never reached the service (nothing was sent)


@dataclass(frozen=True)
class Caps:
    max_credits: int | None = None  # this command, or this MCP session
    daily: int | None = None
    monthly: int | None = None

    @property
    def windows(self) -> list[tuple[str, int]]:
        return [(name, cap) for name, cap in (("daily", self.daily), ("monthly", self.monthly)) if cap is not None]


def window_bounds(period: str, now: float) -> tuple[float, float]:
    """[start, end) of the UTC day or calendar month holding `now`."""
    t = time.gmtime(now)
    if period == "daily":
        start = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
        return float(start), float(start + 86400)
    start = calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return float(start), float(calendar.timegm((year, month, 1, 0, 0, 0)))


def resets_at(period: str, now: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(window_bounds(period, now)[1]))


@dataclass(frozen=True)
class CapExceeded:
    period: str
    cap: int
    spent: int
    wanted: int
    resets: str

    def describe(self) -> str:
        return (f"the {self.period} cap of {self.cap} credits: {self.spent} spent or held in this window, "
                f"{self.wanted} more asked; it resets at {self.resets}")


def check_caps(caps: Caps, spent_since: Callable[[float], int], wanted: int, now: float) -> CapExceeded | None:
    """The first window whose cap `wanted` more credits would cross, or None."""
    for period, cap in caps.windows:
        spent = spent_since(window_bounds(period, now)[0])
        if spent + wanted > cap:
            return CapExceeded(period, cap, spent, wanted, resets_at(period, now))
    return None




@dataclass
class Ticket:
    key: str
    high: int  # credits held for this request
    items: int
    probe: bool
    reservation: int | None = None


@dataclass
class SpendGuard:
    """Thread-safe: workers call admit() before a request leaves and settle() when it is answered."""

    caps: Caps
    spent: int = 0  # charged so far (this command, or the MCP session before it)
    accept_price_change: bool = False
    observed: dict[str, int] = field(default_factory=dict)  # price key -> what this command was charged
    history: "History | None" = None
    profile: str = "default"
    clock: Callable[[], float] = time.time
    held: int = 0
    inflight: int = 0
    probing: bool = False
    awaiting_record: int = 0  # answered requests whose jobs are not in the history yet
    halt: str | None = None
    detail: str = ""
    price_seen: list[tuple[str, int, int, int]] = field(default_factory=list)  # key, charged, low, high
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.start_spent = self.spent

    @property
    def spent_here(self) -> int:
        """Charged since this guard was made (the command's own spend)."""
        return self.spent - self.start_spent

    def stop(self, reason: str, detail: str = "") -> None:
        with self._cond:
            if self.halt is None:
                self.halt, self.detail = reason, detail
            self._cond.notify_all()

    def _wait_turn(self, key: str) -> bool:
        """Block while a probe is out; returns whether this request is itself a probe."""
        while True:
            if self.halt is not None:
                raise Refused(self.halt)
            if self.probing or self.awaiting_record:  # nothing leaves before the last answer is recorded
                self._cond.wait(0.05)
                continue
            if key in self.observed:
                return False
            if self.inflight == 0:
                return True
            self._cond.wait(0.05)

    @property
    def crossed(self) -> bool:
        """More was charged than max_credits allows (only a probe's bill can do that)."""
        return self.caps.max_credits is not None and self.spent > self.caps.max_credits

    def admit(self, key: str, high_each: int, items: int) -> Ticket:
        """The last word before a request leaves; raises Refused when it must not. Every key is probed
        once per command, observed before or not: the price may have changed since."""
        with self._cond:
            probe = self._wait_turn(key)
            # Once charged, a key's price is what was charged (both ends of the range collapse to it).
            high = self.observed.get(key, high_each) * items
            limit = self.caps.max_credits
            if limit is not None and self.spent + self.held + high > limit:
                self.halt = HALT_BUDGET
                self.detail = (f"the next request could cost {high} credits and {self.spent} were charged "
                               f"(+{self.held} on the wire) of the budget of {limit}")
                self._cond.notify_all()
                raise Refused(self.halt)
            ticket = Ticket(key, high, items, probe)
            if self.caps.windows and self.history is not None:
                ticket.reservation = self._reserve(high)
            self.held += high
            self.inflight += 1
            self.probing = self.probing or probe
            return ticket

    def _reserve(self, high: int) -> int:
        assert self.history is not None
        now = self.clock()
        found: list[CapExceeded] = []

        def fits(spent_since: Callable[[float], int]) -> bool:
            over = check_caps(self.caps, spent_since, high, now)
            if over is not None:
                found.append(over)
            return over is None

        reservation = self.history.reserve(self.profile, high, fits, now, RESERVATION_SECONDS)
        if reservation is None:
            self.halt = HALT_CAP
            self.detail = found[0].describe() if found else "a spending cap"
            self._cond.notify_all()
            raise Refused(self.halt)
        return reservation

    def settle(self, ticket: Ticket, charges: list[int | None] | None, low_each: int) -> None:
        """The answer came (charges per job), or it failed: None = nothing was charged for sure,
        [None] = it may have been charged (counted at the high figure)."""
        with self._cond:
            self.held -= ticket.high
            self.inflight -= 1
            if ticket.probe:
                self.probing = False
            known = [c for c in (charges or []) if c is not None]
            unknown = len([c for c in (charges or []) if c is None])
            self.spent += sum(known) + unknown * (ticket.high // max(ticket.items, 1))
            if known:
                self._learn(ticket, max(known), low_each)
            self._cond.notify_all()

    def _learn(self, ticket: Ticket, charged: int, low_each: int) -> None:
        high_each = ticket.high // max(ticket.items, 1)
        if charged != low_each or charged > high_each:
            if not any(k == ticket.key for k, *_ in self.price_seen):
                self.price_seen.append((ticket.key, charged, low_each, high_each))
        if charged > high_each and not self.accept_price_change and self.halt is None:
            self.halt = HALT_PRICE
            expected = f"{low_each}" if low_each == high_each else f"{low_each}-{high_each}"
            self.detail = f"a job cost {charged} credits where {expected} were estimated"
        self.observed[ticket.key] = max(charged, self.observed.get(ticket.key, 0)) \
            if self.accept_price_change else charged

    def answered(self) -> None:
        """A request's answer holds jobs: the next request waits until they are recorded."""
        with self._cond:
            self.awaiting_record += 1

    def release(self, ticket: Ticket) -> None:
        """The request's jobs are in the history: their charges count there now, not the hold."""
        with self._cond:
            self.awaiting_record = max(0, self.awaiting_record - 1)
            self._cond.notify_all()
            if ticket.reservation is not None and self.history is not None:
                self.history.release(ticket.reservation)
                ticket.reservation = None
