"""Saving videos: where `-o` puts each job (one file, a folder, a name template), and streamed, atomic
downloads (a file appears at the target only when it is complete)."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from akool_cli.api.client import Download
from akool_cli.api.models import Job, JobStatus
from akool_cli.core.errors import AkoolError, TransportError, UsageError
from akool_cli.core.exit_codes import ExitCode
from akool_cli.core.validation import local_path

if TYPE_CHECKING:
    from akool_cli.flows.deps import Deps
    from akool_cli.flows.submit import SubmitReport

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


@dataclass
class OutputTarget:
    """Where -o puts videos: one file, a folder with one <id>.mp4 a job, or a name template
    (`out/{stem}-{index}.mp4`, see akool_cli.flows.naming) whose collisions get a suffix, never overwrite."""

    path: Path
    is_dir: bool
    force: bool
    template: str | None = None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # per job id: the template's values
    claims: Any = None
    assigned: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def folder(cls, text: str, force: bool) -> "OutputTarget":
        path = local_path(text)
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o '{text}' is a file, but several videos need a folder",
                             hint="pass a folder path for -o")
        return cls(path, True, force)

    @classmethod
    def parse(cls, text: str, count: int, force: bool) -> "OutputTarget":
        from akool_cli.flows.naming import NameClaims, check_template, is_template

        if is_template(text):
            return cls(local_path(text), False, force, check_template(text), claims=NameClaims())
        path = local_path(text)
        if path.is_dir() or text.endswith(("/", "\\")) or count > 1:
            return cls.folder(text, force)
        check_target(path, force)
        return cls(path, False, force)

    def for_job(self, job_id: str, job: Job | None = None) -> Path:
        """`job`: where no create filled the fields (download, status -o), they come from the job itself."""
        if self.template is not None:
            if job_id not in self.assigned:
                from akool_cli.flows.naming import place, template_values

                values = self.fields.get(job_id) or template_values(
                    job_id, source=job.image_url if job else None, row=1, key=None, index=1,
                    request={"model_name": job.raw.get("model_name"), "resolution": job.resolution} if job else {},
                    effect_name=job.effect_name if job else None)
                self.assigned[job_id] = place(str(local_path(self.template)), values, force=self.force,
                                              claims=self.claims)
            return self.assigned[job_id]
        if self.is_dir:
            self.path.mkdir(parents=True, exist_ok=True)
            return self.path / f"{job_id}.mp4"
        return self.path


def template_fields(report: "SubmitReport") -> dict[str, dict[str, Any]]:
    """The -o template's values for each job: its source, row, variant and settings."""
    from akool_cli.flows.naming import template_values

    fields: dict[str, dict[str, Any]] = {}
    rows: dict[int, int] = {}
    variants: dict[int, int] = {}
    for sub, job in report.created:
        row = rows.setdefault(id(sub), len(rows) + 1)
        variants[id(sub)] = variants.get(id(sub), sub.first_index - 1) + 1
        fields[job.id] = template_values(job.id, source=sub.source, row=sub.row or row, key=getattr(sub, "key", None),
                                         index=variants[id(sub)], request=sub.request.to_body(),
                                         effect_name=job.effect_name)
    return fields


@dataclass
class Saved:
    """What `save_jobs` did: the files written, and each job that could not be saved with the path it was meant for."""

    paths: dict[str, Path] = field(default_factory=dict)
    failures: list[tuple[Job, AkoolError, Path]] = field(default_factory=list)


def save_jobs(deps: "Deps", jobs: Iterable[Job], target: "OutputTarget") -> Saved:
    """Save every completed job; a failed one is skipped (its status says so), one not finished or not
    saved is a failure the caller reports with the free command that saves it later."""
    from akool_cli.core.text import human_bytes

    result = Saved()
    client = deps.client()
    for job in jobs:
        if job.status == JobStatus.FAILED:
            continue
        path = target.for_job(job.id, job)
        if not job.downloadable:
            result.failures.append((job, TransportError(f"job {job.id} has no video to save yet ({job.status_name})"),
                                    path))
            continue
        try:
            with deps.events.transfer(f"Downloading {path.name}") as (on_start, on_chunk):
                size = download(client, job.video_url or "", path, force=target.force, on_start=on_start,
                                on_chunk=on_chunk)
        except AkoolError as error:
            result.failures.append((job, error, path))
            continue
        deps.history().mark_downloaded(job.id, path.resolve())
        deps.events.info(f"saved {path} ({human_bytes(size)})")
        result.paths[job.id] = path
    return result
