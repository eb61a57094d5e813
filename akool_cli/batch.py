"""Submitting create requests: uploads first, then bounded concurrency, each job recorded at once."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable

from akool_cli.errors import AkoolError
from akool_cli.models import CreateRequest, Job
from akool_cli.uploads import LocalFile, Uploader


@dataclass
class Submission:
    source: str  # what the user typed: a URL or a path
    request: CreateRequest
    image: LocalFile | None = None  # a local file, uploaded before anything is created


def placeholder(file: LocalFile) -> str:
    return f"<upload of {file.path}>"


def plan(sources: list[str], checked: list[LocalFile | str], template: CreateRequest) -> list[Submission]:
    return [Submission(source, replace(template, image_url=item if isinstance(item, str) else placeholder(item)),
                       None if isinstance(item, str) else item)
            for source, item in zip(sources, checked)]


def upload_inputs(uploader: Uploader, submissions: list[Submission], audio: LocalFile | None) -> None:
    """All uploads before the first create: a failed upload must leave nothing half paid for."""
    audio_url = uploader.upload(audio) if audio is not None else None
    for sub in submissions:
        if audio_url is not None:
            sub.request.audio_url = audio_url
        if sub.image is not None:
            sub.request.image_url = uploader.upload(sub.image)


def submit_all(create: Callable[[CreateRequest], Job], submissions: list[Submission], workers: int,
               record: Callable[[Submission, Job], None]) -> tuple[list[Job], list[tuple[Submission, AkoolError]]]:
    """Send every request once, at most `workers` at a time; `record` runs for each job as it exists."""
    created: list[Job] = []
    errors: list[tuple[Submission, AkoolError]] = []

    def collect(sub: Submission, future: "Future[Job]") -> None:
        try:
            job = future.result()
        except AkoolError as error:
            errors.append((sub, error))
            return
        record(sub, job)
        created.append(job)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(sub, pool.submit(create, sub.request)) for sub in submissions]
        done = 0
        try:
            for sub, future in futures:
                collect(sub, future)
                done += 1
        except KeyboardInterrupt:
            # A request already on the wire may have created a paid job: let it finish and record it.
            for _, future in futures[done:]:
                future.cancel()
            for sub, future in futures[done:]:
                if not future.cancelled():
                    collect(sub, future)
            raise
    return created, errors
