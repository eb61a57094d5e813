"""Streamed, atomic downloads: a file appears at the target only when it is complete."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Callable, Protocol

from akool_cli.api.client import Download
from akool_cli.core.errors import AkoolError, TransportError, UsageError
from akool_cli.core.exit_codes import ExitCode

CHUNK = 1024 * 1024
# Less than this many bytes in this many seconds is a stall, whatever each single read does.
STALL_SECONDS = 20.0
STALL_MIN_BYTES = 64 * 1024


class LocalWriteError(AkoolError):
    exit_code = ExitCode.USAGE


class Downloader(Protocol):
    def open_download(self, url: str) -> Download: ...


def check_target(target: Path, force: bool) -> None:
    """A video lands on a regular file or nowhere: never a device, a directory or through a symlink,
    --force or not (as root, `--force -o /dev/null` would otherwise replace the device)."""
    import stat

    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"cannot use '{target}': {exc.strerror}", hint="choose another -o path") from None
    if mode is not None:
        if stat.S_ISLNK(mode):
            raise UsageError(f"'{target}' is a symbolic link; videos are never written through one",
                             hint="choose another -o path, or remove the link")
        if stat.S_ISDIR(mode):
            raise UsageError(f"'{target}' is a directory", hint="end the -o path with / to save into it")
        if not stat.S_ISREG(mode):
            raise UsageError(f"'{target}' is not a regular file (a device, socket or pipe)",
                             hint="choose another -o path")
        if not force:
            raise UsageError(f"'{target}' already exists",
                             hint="pass --force to overwrite it, or choose another -o path")
    if not target.parent.is_dir():
        raise UsageError(f"folder '{target.parent}' does not exist", hint="create it first or choose another -o path")


def _write_all(fd: int, data: memoryview, target: Path) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError as exc:
        raise LocalWriteError(f"cannot write '{target}': {exc.strerror or exc}",
                              hint="free some disk space or choose another -o path") from None


def download(client: Downloader, url: str, target: Path, *, force: bool,
             on_start: Callable[[int | None], None] = lambda total: None,
             on_chunk: Callable[[int], None] = lambda size: None,
             monotonic: Callable[[], float] = time.monotonic) -> int:
    """Stream `url` into `target` through a hidden temporary file; returns bytes written."""
    check_target(target, force)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    written = 0
    buffer = memoryview(bytearray(CHUNK))  # one buffer for the whole file: memory stays flat
    try:
        with client.open_download(url) as body:
            total = body.length
            on_start(total)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except OSError as exc:
                raise LocalWriteError(f"cannot write in '{target.parent}': {exc.strerror}",
                                      hint="check the folder's permissions or choose another -o path") from None
            try:
                window_start, window_bytes = monotonic(), 0
                while True:
                    size = body.readinto(buffer)
                    if not size:
                        break
                    _write_all(fd, buffer[:size], target)
                    written += size
                    on_chunk(size)
                    # A server that trickles bytes defeats the per-read timeout: demand real progress.
                    window_bytes += size
                    if monotonic() - window_start > STALL_SECONDS:
                        if window_bytes < STALL_MIN_BYTES:
                            raise TransportError(f"download of {url} stalled ({window_bytes} bytes in "
                                                 f"{STALL_SECONDS:g} s)", hint="the file server is too slow")
                        window_start, window_bytes = monotonic(), 0
                os.fsync(fd)
            finally:
                os.close(fd)
        if total is not None and written != total:
            raise TransportError(f"download of {url} ended after {written} of {total} bytes",
                                 hint=f"nothing was saved at '{target}'")
        if written == 0:
            raise TransportError(f"download of {url} was empty (0 bytes)", hint=f"nothing was saved at '{target}'")
        check_target(target, force)  # again: something may have appeared there meanwhile
        os.replace(tmp, target)
        return written
    except TransportError as exc:
        if "nothing was saved" not in (exc.hint or ""):
            exc.hint = f"nothing was saved at '{target}'"
        raise
    finally:
        tmp.unlink(missing_ok=True)
