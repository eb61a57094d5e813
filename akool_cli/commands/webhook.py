"""akool webhook: receive Akool's signed, encrypted callbacks (listen) or open one (decrypt)."""

from __future__ import annotations

from typing import Annotated, Optional

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


def _status_label(status: object) -> str:
    from akool_cli.api.models import status_name

    return status_name(status if isinstance(status, int) else None)


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
    import queue
    import subprocess
    import threading

    from akool_cli.api.models import Job
    from akool_cli.api.webhook import ReplayGuard, WebhookError
    from akool_cli.commands.steps import download_jobs
    from akool_cli.core.errors import AkoolError, UsageError
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.output.writers import lines_view
    from akool_cli.store.groups import GroupCommit
    from akool_cli.webhook_server import Receiver

    state: App = ctx.obj
    state.limit_time(None)  # a listener runs until stopped: each download's calls are bounded on their own
    # A stream has no end to close a JSON array at: --json (and --format json) print JSON lines.
    form = resolve_format("jsonl" if json_out or fmt == "json" else fmt, False, honoured=("table", "jsonl", "ids"))
    cid, secret = _listen_keys(state, client_id, tolerance, forward_to)
    target = OutputTarget.folder(output, force=False) if output else None
    history = state.history(shared=True)
    lock = threading.Lock()
    followups: "queue.Queue[tuple[Job, dict]]" = queue.Queue()

    # Callbacks arriving together are written in one transaction (one fsync), each answered after it.
    writes: "GroupCommit[Job]" = GroupCommit(history.update_from_jobs)

    def on_event(event: dict) -> None:
        # Runs before the 200 goes back: a callback is answered only once it is recorded.
        job = Job.from_api({"_id": event.get("_id"), "status": event.get("status"), "video_url": event.get("url")})
        writes.submit(job)
        with lock:
            url = f"  {event['url']}" if event.get("url") else ""
            state.renderer.show(lines_view([f"{job.id}  {_status_label(event.get('status'))}{url}"], [event],
                                           id_key="_id"), form)
            followups.put((job, event))

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
        receiver = Receiver(host, port, cid, secret, ReplayGuard(tolerance), on_event, on_reject, state.runtime.clock)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})", hint="pick another --port") from None
    bound = receiver.server_address[1]
    handled = 0
    try:
        thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        state.renderer.info(f"Listening for Akool webhooks on http://{host}:{bound}/ (Ctrl-C to stop)")
        while max_events is None or handled < max_events:
            try:
                job, event = followups.get(timeout=0.2)
            except queue.Empty:
                continue
            follow_up(job, event)
            handled += 1
    except KeyboardInterrupt:
        # Ctrl-C is how a listener is meant to end: not an error.
        from akool_cli.core import signals

        signals.mark_reported()
        state.renderer.info(f"listener stopped ({handled} callback(s) handled)")
    finally:
        receiver.shutdown()
        receiver.server_close()


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
