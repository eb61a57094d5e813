"""Signals: SIGINT, SIGTERM and SIGHUP all stop a command the same way, and never mid-payment.

Python turns SIGINT into KeyboardInterrupt at whatever bytecode the main thread is running;
SIGTERM and SIGHUP would kill the process outright. Both are wrong while a paid request is
in flight: the job may exist on the service and must reach the history first. So every
stopping signal raises `Stopped` (a KeyboardInterrupt, so existing handlers see it), except
inside `deferred()`, where it is only noted, and raised once the critical section is over.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

STOPPING = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


def label(signum: int) -> str:
    """How a stop is told: "interrupted" for Ctrl-C, "stopped by SIGTERM" and so on."""
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


class Stopped(KeyboardInterrupt):
    """A stopping signal arrived. The exit code is 128 + its number, as shells report it."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)

    @property
    def label(self) -> str:
        return label(self.signum)


class _State:
    depth = 0  # how many deferred() sections are open (main thread only)
    pending: int | None = None  # the first signal that arrived while deferred
    raised: int | None = None  # a signal turned into Stopped...
    reported = False  # ...and whether someone has told the user about it


def _in_import_machinery(frame: Any) -> bool:
    """Inside importlib's own code (a module lock's weakref callback among others) an exception is
    printed as "Exception ignored in ..." with a traceback and then dropped: not a place to stop."""
    return frame is not None and str(frame.f_code.co_filename).startswith("<frozen importlib")


def _handler(signum: int, frame: Any) -> None:
    if _State.depth:
        if _State.pending is None:
            _State.pending = signum
        return
    if _in_import_machinery(frame):
        # Ask again: the handler runs once more at the next bytecode, until importlib is done.
        signal.raise_signal(signum)
        return
    _State.raised = signum
    raise Stopped(signum)


def mark_reported() -> None:
    _State.reported = True


def unreported() -> int | None:
    """A signal that stopped the command where nobody could say so (Click turns it into a bare exit)."""
    return _State.raised if _State.raised is not None and not _State.reported else None


def install() -> None:
    """Route every stopping signal through one handler. A no-op off the main thread (tests)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in STOPPING:
        try:
            signal.signal(signum, _handler)
        except (OSError, ValueError):  # pragma: no cover - platform without it
            pass


def ignore() -> None:
    """From here on, stopping signals change nothing (the process is on its way out)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in STOPPING:
        try:
            signal.signal(signum, signal.SIG_IGN)
        except (OSError, ValueError):  # pragma: no cover
            pass


def stop_requested() -> int | None:
    """The signal noted inside the current deferred() section, if any."""
    return _State.pending


def take() -> int | None:
    """Consume the noted signal: the caller handles it itself."""
    signum, _State.pending = _State.pending, None
    return signum


@contextmanager
def deferred() -> Iterator[None]:
    """Hold stopping signals until the block ends; then raise the first one that came."""
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        _State.depth += 1
    try:
        yield
    except BaseException:
        if on_main:
            _State.depth -= 1
            if _State.depth == 0:
                _State.pending = None  # the block's own error already ends the command
        raise
    if on_main:
        _State.depth -= 1
        if _State.depth == 0 and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise Stopped(signum)


def reset() -> None:
    """Forget a pending signal (tests, and the start of each command run in-process)."""
    _State.pending = None
