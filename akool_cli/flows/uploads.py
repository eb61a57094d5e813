"""Uploading files on request (`akool upload`) and pruning what this tool put in a bucket.

Neither prints: they return what happened, and the command hands it to a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from akool_cli.core.errors import AkoolError, UsageError

if TYPE_CHECKING:
    from akool_cli.api.s3 import S3Uploader
    from akool_cli.api.uploads import LocalFile, Uploader
    from akool_cli.store.history import History


@dataclass
class Uploaded:
    file: str
    url: str
    reused: bool | None = None  # s3: the same content was there already (nothing sent)
    key: str | None = None
    sha256: str | None = None
    expires_at: float | None = None

    def record(self) -> dict[str, Any]:
        return {"file": self.file, "url": self.url, "reused": self.reused, "key": self.key, "sha256": self.sha256,
                "expire_time": int(self.expires_at * 1000) if self.expires_at else None}


def check_file(text: str) -> "LocalFile":
    """An image or an audio file, told apart by its bytes; a URL needs no upload."""
    from akool_cli.api.uploads import audio_kind, check_audio, check_image, image_kind, is_url

    if is_url(text):
        raise UsageError(f"{text!r} is a URL already", hint="pass local files; URLs go to akool create as they are")
    head = b""
    try:
        with open(text, "rb") as handle:
            head = handle.read(16)
    except OSError:
        pass  # check_image says why, in its own words
    checked = check_audio(text) if audio_kind(head) and not image_kind(head) else check_image(text)
    assert not isinstance(checked, str)
    return checked


def upload_files(uploader: "Uploader", texts: list[str], *, now: float) -> list[Uploaded]:
    """Every file checked first, then uploaded in order; the first failure stops (one line, its fix)."""
    from akool_cli.api.s3 import S3Uploader

    files = [check_file(text) for text in texts]
    uploader.ready()
    done = []
    for text, file in zip(texts, files):
        if isinstance(uploader, S3Uploader):
            stored = uploader.store(file)
            done.append(Uploaded(text, stored.url, stored.reused, stored.key, stored.sha256, stored.link_expires_at))
        else:
            done.append(Uploaded(text, uploader.upload(file)))
    return done


@dataclass
class Pruned:
    rows: list[dict[str, Any]] = field(default_factory=list)
    deleted: int = 0
    failed: int = 0
    bytes: int = 0
    dry_run: bool = False

    @property
    def summary(self) -> str:
        from akool_cli.core.text import human_bytes

        if self.dry_run:
            return f"dry run: {len(self.rows)} object(s), {human_bytes(self.bytes)}, would be deleted; nothing was"
        return f"deleted {self.deleted} object(s), {human_bytes(self.bytes)}" + \
            (f"; {self.failed} failed" if self.failed else "")


def prune(history: "History", uploader: "S3Uploader", *, older_than_days: float, now: float, dry_run: bool,
          confirm: Callable[[int], None]) -> Pruned:
    """Only objects this tool recorded, in this bucket and endpoint, under upload.prefix, unused for the
    given days; anything else in the bucket is never listed, let alone deleted."""
    settings = uploader.settings
    candidates = [row for row in history.uploads(bucket=settings.bucket, endpoint=settings.endpoint_url or "",
                                                 used_before=now - older_than_days * 86400)
                  if row["key"].startswith(settings.prefix)]
    confirm(len(candidates))
    result = Pruned(dry_run=dry_run)
    for row in candidates:
        shown = {"key": row["key"], "size": row["size"], "last_used": int(row["last_used_at"] * 1000),
                 "job_ids": row["job_ids"]}
        if dry_run:
            result.rows.append({**shown, "result": "would delete", "msg": None})
            result.bytes += row["size"]
            continue
        try:
            uploader.delete(row["key"])
        except AkoolError as error:
            result.rows.append({**shown, "result": "failed", "msg": error.message})
            result.failed += 1
            continue
        history.mark_upload_deleted(row["endpoint"], row["bucket"], row["key"])
        result.rows.append({**shown, "result": "deleted", "msg": None})
        result.deleted += 1
        result.bytes += row["size"]
    return result
