"""akool webhook: receive Akool's signed, encrypted callbacks (listen) or open one (decrypt)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Callable, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption, resolve_format

webhook_app = typer.Typer(name="webhook", help="Receive and decrypt Akool's webhook callbacks.", no_args_is_help=True)

ClientIdOption = Annotated[Optional[str], typer.Option("--client-id", help="clientId that signs the callbacks (default: the profile's, or AKOOL_CLIENT_ID).")]


def _keys(state: App, client_id: str | None) -> tuple[str, str]:
    """The clientId and clientSecret that sign and encrypt this account's callbacks."""
    from akool_cli.core.errors import UsageError

    creds = state.credentials
    secret = creds.client_secret or creds.api_key  # the console's API key is the clientSecret
    cid = client_id or creds.client_id or state.runtime.env.get("AKOOL_CLIENT_ID")
    if not cid and state.is_sandbox:
        from akool_cli.sandbox import SANDBOX_CLIENT_ID

        cid = SANDBOX_CLIENT_ID
    if not cid or not secret:
        raise UsageError("webhooks need the clientId and clientSecret of the account",
                         hint="pass --client-id and log in (akool auth login), or set AKOOL_CLIENT_ID and AKOOL_API_KEY")
    return cid, secret


def _listen_keys(state: App, client_id: str | None, tolerance: float, forward_to: str | None) -> tuple[str, str]:
    """Everything `listen` can check before it binds a port: the keys, the tolerance, --forward-to."""
    import math

    from akool_cli.api.uploads import check_url
    from akool_cli.api.webhook import _cipher
    from akool_cli.core.errors import UsageError

    if not math.isfinite(tolerance):
        raise UsageError(f"--tolerance {tolerance} is not a number of seconds", hint="e.g. --tolerance 300")
    cid, secret = _keys(state, client_id)
    _cipher(cid, secret)  # fail now, not at the first callback, on a missing library or bad key sizes
    if forward_to:
        check_url(forward_to, "--forward-to")
    return cid, secret


@webhook_app.command("listen")
@guarded
def listen(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8787,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0 to accept from outside).")] = "127.0.0.1",
    client_id: ClientIdOption = None,
    forward_to: Annotated[Optional[str], typer.Option("--forward-to", metavar="URL", help="POST each decrypted event (JSON) to this URL.")] = None,
    exec_cmd: Annotated[Optional[str], typer.Option("--exec", metavar="CMD", help="Run this shell command for each event, the event JSON on stdin.")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="DIR", help="Download completed videos into this folder.")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=1, max=86400, help="Reject callbacks whose timestamp is further off than this, seconds.")] = 300.0,
    max_events: Annotated[Optional[int], typer.Option("--max-events", min=1, help="Stop after this many events.")] = None,
    fmt: FormatOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print events as JSON lines on stdout (--format jsonl).")] = False,
) -> None:
    """Receive callbacks: verify, decrypt, print, update the history; like `stripe listen`."""
    import json
    import subprocess
    import threading

    from akool_cli.api.models import Job
    from akool_cli.api.webhook import ReplayGuard, WebhookError
    from akool_cli.commands.steps import download_jobs
    from akool_cli.core.errors import AkoolError, UsageError
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.webhook_server import Receiver

    state: App = ctx.obj
    state.limit_time(None)  # a listener runs until stopped: each download's calls are bounded on their own
    # A stream has no end to close a JSON array at: --json (and --format json) print JSON lines.
    form = resolve_format("jsonl" if json_out or fmt == "json" else fmt, False, honoured=("table", "jsonl", "ids"))
    cid, secret = _listen_keys(state, client_id, tolerance, forward_to)
    target = OutputTarget.folder(output, force=False) if output else None
    sink = _Sink(state, form, follow=bool(forward_to or exec_cmd or target), enough=max_events)

    def follow_up(job: Job, event: dict) -> None:
        """The slow part of an event, in this command's own thread, one event after the other."""
        if forward_to:
            _forward(state, forward_to, event)
        if exec_cmd:
            run = subprocess.run(exec_cmd, shell=True, input=json.dumps(event), text=True, capture_output=True)
            if run.returncode:
                state.renderer.warn(f"--exec exited {run.returncode} for {job.id}")
        if target and job.downloadable:
            try:
                download_jobs(state, [job], target)
            except AkoolError as error:  # one failed download must not stop the listener
                state.renderer.warn(f"download of {job.id} failed: {error.message}")

    def on_reject(error: WebhookError) -> None:
        state.renderer.warn(f"refused a callback: {error.message}")

    try:
        receiver = Receiver(host, port, cid, secret, ReplayGuard(tolerance), sink.on_event, on_reject,
                            state.runtime.clock)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})", hint="pick another --port") from None
    bound = receiver.server_address[1]
    try:
        thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        state.renderer.info(f"Listening for Akool webhooks on http://{host}:{bound}/ (Ctrl-C to stop)")
        sink.serve(follow_up)
    except KeyboardInterrupt:
        # Ctrl-C is how a listener is meant to end: not an error.
        from akool_cli.core import signals

        signals.mark_reported()
        state.renderer.info(f"listener stopped ({sink.handled} callback(s) handled)")
    finally:
        receiver.shutdown()
        receiver.server_close()


PRINT_EVERY = 0.05  # seconds between the listener's prints: one write for every event of that time


class _Sink:
    """Where verified callbacks go. Callbacks arriving together are written in one transaction (one fsync),
    each answered after that; the printer thread prints what was recorded every PRINT_EVERY seconds in one
    write (thousands of callbacks a second cost a few writes, not one each); follow-up work (--forward-to,
    --exec, -o) is done one event after the other in the command's own thread."""

    def __init__(self, state: App, form: str, *, follow: bool, enough: int | None) -> None:
        import collections
        import queue
        import threading

        from akool_cli.store.groups import GroupCommit

        self.state, self.form, self.enough = state, form, enough
        self.history = state.history(shared=True)
        self.followups: "queue.Queue[tuple[Any, dict]] | None" = queue.Queue() if follow else None
        self.writes: "GroupCommit[tuple[Any, dict]]" = GroupCommit(self._record)
        self.unprinted: "collections.deque[tuple[Any, dict]]" = collections.deque()
        self.print_lock = threading.Lock()
        self.failure: BaseException | None = None  # the printer's (stdout closed): raised by serve()
        self.recorded = 0
        self.handled = 0
        self.done = threading.Event()
        threading.Thread(target=self._printer, daemon=True).start()

    def on_event(self, event: dict) -> None:
        """In the callback's thread: it is answered only once this returns (recorded)."""
        from akool_cli.api.models import Job

        job = Job.from_api({"_id": event.get("_id"), "status": event.get("status"), "video_url": event.get("url")})
        self.writes.submit((job, event))

    def _record(self, group: "list[tuple[Any, dict]]") -> None:
        self.history.update_from_jobs([job for job, _ in group])
        self.unprinted.extend(group)
        self.recorded += len(group)  # in the group's one writer: no other thread adds to it meanwhile
        if self.followups is not None:
            for item in group:
                self.followups.put(item)
        elif self.enough is not None and self.recorded >= self.enough:
            self.done.set()

    def _printer(self) -> None:
        while self.failure is None:
            time.sleep(PRINT_EVERY)
            try:
                self.flush()
            except BaseException as exc:  # noqa: BLE001 - raised in the main thread, not printed here
                self.failure = exc
                self.done.set()

    def flush(self) -> None:
        """Print every recorded event not printed yet (the printer's, and once more at the end)."""
        from akool_cli.api.models import status_name
        from akool_cli.output.writers import lines_view

        with self.print_lock:
            events = [self.unprinted.popleft() for _ in range(len(self.unprinted))]
            if not events:
                return
            lines = [f"{job.id}  {status_name(job.status)}" + (f"  {event['url']}" if event.get("url") else "")
                     for job, event in events]
            self.state.renderer.show(lines_view(lines, [event for _, event in events], id_key="_id"), self.form)

    def serve(self, follow_up: "Callable[[Any, dict], None]") -> None:
        """Until --max-events callbacks are handled (followed up, when there is work to follow up)."""
        try:
            self._serve(follow_up)
        finally:
            if self.failure is None:
                self.flush()
        if self.failure is not None:
            raise self.failure

    def _serve(self, follow_up: "Callable[[Any, dict], None]") -> None:
        import queue

        while (self.enough is None or self.handled < self.enough) and self.failure is None:
            if self.followups is None:
                self.done.wait(0.2)  # a timeout: Ctrl-C reaches this (main) thread between waits
                self.handled = self.recorded
                continue
            try:
                job, event = self.followups.get(timeout=0.2)
            except queue.Empty:
                continue
            follow_up(job, event)
            self.handled += 1


def _forward(state: App, url: str, event: dict) -> None:
    import httpx

    try:
        answer = httpx.post(url, json=event, timeout=10)
        if answer.status_code >= 400:
            state.renderer.warn(f"--forward-to answered HTTP {answer.status_code}")
    except httpx.HTTPError as exc:
        state.renderer.warn(f"--forward-to failed ({type(exc).__name__})")


@webhook_app.command("decrypt")
@guarded
def decrypt_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="[FILE|-]", help="A callback body (JSON); - reads stdin.")] = "-",
    client_id: ClientIdOption = None,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Verify and decrypt one callback body; print the event JSON. Exits 2 on a bad signature."""
    from pathlib import Path

    from akool_cli.api.webhook import open_callback, parse_body
    from akool_cli.core.errors import UsageError
    from akool_cli.output.writers import record_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, default="json")
    cid, secret = _keys(state, client_id)
    if source == "-":
        # Bytes, whatever they are: a binary or non-UTF-8 stdin is a bad body, not a crash.
        stream = getattr(state.runtime.stdin, "buffer", None)
        try:
            raw = stream.read(2 * 1024 * 1024) if stream is not None else state.runtime.stdin.read().encode()
        except (UnicodeDecodeError, ValueError):
            raise UsageError("stdin is not a callback body (not text)", hint="pass the JSON body Akool sent") from None
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read '{source}': {exc.strerror}", hint="pass a file with the callback body, or -") from None
    event = open_callback(parse_body(raw), cid, secret, now=None, guard=None).event
    state.renderer.show(record_view(event, id_key="_id"), form)
