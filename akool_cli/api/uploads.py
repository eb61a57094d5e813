"""Local inputs: check image and audio files by their bytes, and turn them into public URLs."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol
from urllib.parse import urlsplit

from akool_cli.core.errors import UsageError
from akool_cli.core.text import has_control, safe_repr
from akool_cli.core.validation import local_path

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_AUDIO_BYTES = 50 * 1024 * 1024

UPLOADER_HELP = (
    "pass an http(s) URL instead, or set an uploader: a private bucket with presigned links "
    "(akool config set upload.backend s3; akool config set upload.bucket NAME) or your own command "
    "(akool config set upload.command '... \"$AKOOL_UPLOAD_FILE\" ...' printing the file's URL)"
)


def check_upload_command(command: str) -> str:
    """Refuse templates where a file name could run as code. `{path}` is replaced by a single-quoted
    word, which is safe bare but not inside double quotes ("{path}" ends the quoting). The safe form
    is "$AKOOL_UPLOAD_FILE" (or "$1"), which the shell never re-reads as code."""
    import re

    if re.search(r'"[^"]*\{path\}[^"]*"', command):
        raise UsageError("upload.command puts {path} inside double quotes, where a file name can run as code",
                         hint='use "$AKOOL_UPLOAD_FILE" instead of "{path}", e.g. '
                              "aws s3 cp \"$AKOOL_UPLOAD_FILE\" s3://bucket/")
    return command


def image_kind(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def audio_kind(head: bytes) -> str | None:
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    return None


def is_url(text: str) -> bool:
    return "://" in text


def check_url(text: str, what: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or has_control(text) \
            or " " in text:
        raise UsageError(f"{what} {safe_repr(text)} is not an http(s) URL",
                         hint="use an http:// or https:// URL, or a local file path")
    return text


@dataclass(frozen=True)
class LocalFile:
    path: Path
    kind: str
    size: int


def check_local_file(text: str, what: str, sniff: Callable[[bytes], str | None], limit: int,
                     accepted: str) -> LocalFile:
    if "\x00" in text:
        raise UsageError(f"{what} {safe_repr(text)} contains a NUL byte", hint="check the path")
    path = local_path(text)
    if not path.exists():
        raise UsageError(f"{what} '{text}' does not exist", hint="check the path, or pass an http(s) URL")
    if path.is_dir():
        raise UsageError(f"{what} '{text}' is a directory", hint=f"pass a {accepted} file")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(16)
    except PermissionError:
        raise UsageError(f"{what} '{text}' is not readable (permission denied)",
                         hint=f"fix its permissions: chmod u+r {shlex.quote(text)}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} '{text}': {exc.strerror}", hint="check the file") from None
    if size == 0:
        raise UsageError(f"{what} '{text}' is empty", hint=f"pass a {accepted} file")
    if size > limit:
        raise UsageError(f"{what} '{text}' is {size / 1048576:.1f} MiB, over the {limit // 1048576} MiB limit",
                         hint="shrink or recompress it first")
    kind = sniff(head)
    if kind is None:
        raise UsageError(f"{what} '{text}' is not a {accepted} file (checked its contents, not its name)",
                         hint=f"pass a real {accepted} file")
    return LocalFile(path, kind, size)


def check_image(text: str) -> LocalFile | str:
    if is_url(text):
        return check_url(text, "image")
    return check_local_file(text, "image", image_kind, MAX_IMAGE_BYTES, "PNG, JPEG or WebP")


def check_audio(text: str) -> LocalFile | str:
    if is_url(text):
        return check_url(text, "audio")
    return check_local_file(text, "audio", audio_kind, MAX_AUDIO_BYTES, "MP3, WAV, M4A, OGG or FLAC")


class Uploader(Protocol):
    """Turns a checked local file into a URL Akool can fetch."""

    def upload(self, file: LocalFile) -> str: ...

    def ready(self) -> None:
        """Raise the error that says what is missing (settings, an extra), before anything is paid."""

    def describe(self) -> str:
        """One line for a dry run: where local files would go."""


class NoUploader:
    def upload(self, file: LocalFile) -> str:
        raise UsageError(f"'{file.path}' is a local file and no uploader is configured", hint=UPLOADER_HELP)

    def ready(self) -> None:
        raise UsageError("local files need an uploader and none is configured", hint=UPLOADER_HELP)

    def describe(self) -> str:
        return "no uploader"


@dataclass
class CommandUploader:
    """Runs the user's `upload.command`; the file path is given as $AKOOL_UPLOAD_FILE, "$1" and {path}."""

    command: str
    timeout: float
    env: Mapping[str, str]

    def ready(self) -> None:
        check_upload_command(self.command)

    def describe(self) -> str:
        return "the upload.command backend (your shell command)"

    def upload(self, file: LocalFile) -> str:
        # An absolute path: a file named "-rf.png" can never be read as an option by the command.
        path = str(file.path.absolute())
        command = check_upload_command(self.command).replace("{path}", shlex.quote(path))
        env = dict(self.env)
        env["AKOOL_UPLOAD_FILE"] = path
        # Its own process group, so a timeout or Ctrl-C ends the command and every child it started.
        proc = subprocess.Popen(["/bin/sh", "-c", command, "akool-upload", path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise UsageError(f"the upload command ran over {self.timeout:g} s for '{file.path}' and was stopped",
                             hint="check the command (akool config get upload.command) or raise upload.timeout") from None
        except BaseException:
            _kill_group(proc)
            raise
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no error output"])[-1][:200]
            raise UsageError(f"the upload command failed for '{file.path}' (exit {done.returncode}: {detail})",
                             hint="run it by hand to see why: akool config get upload.command")
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        url = lines[-1] if lines else ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            shown = url[:80] or "nothing"
            raise UsageError(f"the upload command printed {shown!r}, not an http(s) URL, for '{file.path}'",
                             hint="make the command print the file's public URL as its last line")
        return url


def _kill_group(proc: "subprocess.Popen[str]") -> None:
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


@dataclass
class SandboxUploader:
    send: Callable[[str, bytes], str]

    def ready(self) -> None:
        pass

    def describe(self) -> str:
        return "the sandbox's own file store (--sandbox: files never leave this machine)"

    def upload(self, file: LocalFile) -> str:
        return self.send(file.path.name, file.path.read_bytes())


def make_uploader(command: str | None, timeout: float, env: Mapping[str, str],
                  sandbox_send: Callable[[str, bytes], str] | None, s3: "Uploader | None" = None) -> Uploader:
    if s3 is not None:
        return s3
    if command:
        return CommandUploader(command, timeout, env)
    if sandbox_send is not None:
        return SandboxUploader(sandbox_send)
    return NoUploader()
