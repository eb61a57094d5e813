"""Finding what a user typed in a list the service sent (effects, models): one set of rules."""

from __future__ import annotations

import difflib
from typing import Callable, Sequence, TypeVar

from akool_cli.core.errors import UsageError
from akool_cli.core.text import clean

T = TypeVar("T")


def norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def resolve(query: str, items: Sequence[T], *, code: Callable[[T], str], name: Callable[[T], str],
            what: str, listing: str) -> T:
    """The exact code, then the name (case and spacing ignored), then a unique prefix of either;
    an ambiguous prefix lists the candidates, a typo gets suggestions."""
    wanted = query.strip()
    if not wanted:
        raise UsageError(f"--{what} is empty", hint=f"run '{listing}' to list them")
    for item in items:
        if code(item) == wanted:
            return item
    key = norm(wanted)
    named = [i for i in items if key in (norm(name(i)), norm(code(i)))]
    if len(named) == 1:
        return named[0]
    prefixed = [i for i in items if key and (norm(name(i)).startswith(key) or norm(code(i)).startswith(key))]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise UsageError(f"{what} '{clean(query)}' is ambiguous: it matches "
                         + ", ".join(sorted(name(i) for i in prefixed)),
                         hint=f"type more of the name, or pass the exact {what} code")
    labels = {name(i).lower(): name(i) for i in items} | {code(i).lower(): code(i) for i in items}
    close = difflib.get_close_matches(wanted.lower(), list(labels), n=3, cutoff=0.5)
    suggestion = (" Did you mean " + " or ".join(dict.fromkeys(labels[c] for c in close)) + "?") if close else ""
    raise UsageError(f"no {what} named '{clean(query)}'.{suggestion}", hint=f"run '{listing}' to list them all")
