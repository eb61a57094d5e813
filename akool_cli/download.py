"""Streamed, atomic downloads: a file appears at the target only when it is complete."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, ContextManager, Protocol

import httpx

from akool_cli.errors import AkoolError, TransportError, UsageError
from akool_cli.exit_codes import ExitCode

CHUNK = 1024 * 1024


class LocalWriteError(AkoolError):
    exit_code = ExitCode.USAGE


class Streamer(Protocol):
    def stream(self, url: str) -> ContextManager[httpx.Response]: ...


def check_target(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise UsageError(f"'{target}' already exists", hint="pass --force to overwrite it, or choose another -o path")
    if not target.parent.is_dir():
        raise UsageError(f"folder '{target.parent}' does not exist", hint="create it first or choose another -o path")


def download(client: Streamer, url: str, target: Path, *, force: bool,
             on_start: Callable[[int | None], None] = lambda total: None,
             on_chunk: Callable[[int], None] = lambda size: None) -> int:
    """Stream `url` into `target` through a hidden temporary file; returns bytes written."""
    check_target(target, force)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    written = 0
    try:
        with client.stream(url) as response:
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            on_start(total)
            with open(tmp, "wb") as handle:
                for chunk in response.iter_raw(CHUNK):
                    handle.write(chunk)
                    written += len(chunk)
                    on_chunk(len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        if total is not None and written != total:
            raise TransportError(f"download of {url} ended after {written} of {total} bytes",
                                 hint=f"nothing was saved at '{target}'; run the command again")
        if target.exists() and not force:
            raise UsageError(f"'{target}' appeared while downloading", hint="pass --force to overwrite it")
        os.replace(tmp, target)
        return written
    except httpx.HTTPError as exc:
        raise TransportError(f"download of {url} broke after {written} bytes ({type(exc).__name__})",
                             hint=f"nothing was saved at '{target}'; run the command again") from None
    except OSError as exc:
        raise LocalWriteError(f"cannot write '{target}': {exc.strerror or exc}",
                              hint="free some disk space or choose another -o path") from None
    finally:
        tmp.unlink(missing_ok=True)
