"""akool sandbox: serve the local emulator of the API."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App

sandbox_app = typer.Typer(name="sandbox", invoke_without_command=True)


@sandbox_app.callback()
@guarded
def sandbox_command(
    ctx: typer.Context,
    port: Annotated[Optional[int], typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (default: the sandbox profile's sandbox_port, 8765).")] = None,
    queue_seconds: Annotated[float, typer.Option("--queue-seconds", min=0, help="How long a job stays queueing.")] = 1.0,
    process_seconds: Annotated[float, typer.Option("--process-seconds", min=0, help="How long a job stays processing.")] = 3.0,
    latency: Annotated[float, typer.Option("--latency", min=0, help="Delay added to every API answer, seconds.")] = 0.0,
    plan: Annotated[str, typer.Option("--plan", help="'pro' allows 10 s videos and --premium; 'basic' refuses them (1009).")] = "pro",
    fault: Annotated[Optional[List[str]], typer.Option("--fault", metavar="ENDPOINT:KIND[:OPT...]", help="Inject a fault, e.g. create:503, results:429:retry_after=2, create:fail_job (repeatable).")] = None,
    video_bytes: Annotated[int, typer.Option("--video-bytes", min=0, help="Pad served videos to this size (for download tests).")] = 0,
    fresh: Annotated[bool, typer.Option("--fresh", help="Forget jobs and uploads kept from earlier runs.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print base_url, api_key and client_id as one JSON line.")] = False,
    balance: Annotated[float, typer.Option("--balance", min=0, help="The account's credits; creates are charged, failed jobs refunded.")] = 100_000.0,
    price_multiplier: Annotated[Optional[List[str]], typer.Option("--price-multiplier", metavar="[ENDPOINT=]X", help="Charge X times the list price, on every endpoint or one of create, create_batch, add_audio (repeatable; create=5 charges what users report).")] = None,
    idle_timeout: Annotated[float, typer.Option("--idle-timeout", metavar="SECONDS", min=0, help="Stop after this long without a request (0: never).")] = 0.0,
    bad_key_code: Annotated[int, typer.Option("--bad-key-code", metavar="CODE", help="What a wrong x-api-key answers: 1101 (the vendor's table) or 1109 ('Invalid API key', as Akool's demo client expects).")] = 1101,
) -> None:
    """Serve a local emulator of the Akool API (no account, no credits). Ctrl-C stops it; 'akool sandbox stop' stops a background one."""
    if ctx.invoked_subcommand:
        return
    from akool_cli.core.errors import UsageError
    from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SandboxConfig, SandboxServer, parse_fault

    state: App = ctx.obj
    if plan not in ("pro", "basic"):
        raise UsageError(f"unknown plan '{plan}'", hint="use --plan pro or --plan basic")
    if bad_key_code not in (1101, 1109):
        raise UsageError(f"--bad-key-code {bad_key_code} is not 1101 or 1109", hint="use --bad-key-code 1109")
    try:
        faults = [parse_fault(spec) for spec in fault or []]
    except ValueError as exc:
        raise UsageError(str(exc), hint="see akool sandbox --help for the fault syntax") from None
    from akool_cli.sandbox.state import parse_multiplier

    every, per_endpoint = 1.0, {}
    for spec in price_multiplier or []:
        try:
            endpoint, number = parse_multiplier(spec)
        except ValueError as exc:
            raise UsageError(str(exc), hint="e.g. --price-multiplier 2 or --price-multiplier create=5") from None
        if endpoint is None:
            every = number
        else:
            per_endpoint[endpoint] = number
    state_file = state.paths.sandbox_state_file
    if fresh:
        import shutil

        state_file.unlink(missing_ok=True)
        state_file.with_suffix(".log").unlink(missing_ok=True)
        from akool_cli.sandbox.state import uploads_folder

        shutil.rmtree(uploads_folder(state_file), ignore_errors=True)
    # By default, listen where `akool --sandbox` looks: the sandbox profile's port.
    from akool_cli.config import SANDBOX_PROFILE, resolve_settings

    profile = state.profile_flag or SANDBOX_PROFILE
    configured = int(resolve_settings(state.config_store, profile, state.runtime.env)["sandbox_port"].value)
    chosen = port if port is not None else configured
    config = SandboxConfig(port=chosen, queue_seconds=queue_seconds, process_seconds=process_seconds,
                           latency=latency, plan=plan, faults=faults, video_bytes=video_bytes, state_file=state_file,
                           idle_timeout=idle_timeout, balance=balance, price_multiplier=every,
                           endpoint_multipliers=per_endpoint, bad_key_code=bad_key_code,
                           control_token=secrets.token_urlsafe(24))
    try:
        server = SandboxServer(config, log_requests=state.verbose)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{chosen} ({exc.strerror})",
                         hint="another sandbox may be running; pick another --port") from None
    from akool_cli.output.writers import record_view

    _save_control_token(state.paths.sandbox_token_file, config.control_token or "")
    out = state.renderer
    # One JSON line (a script reads it while the server keeps running), or `key  value` lines for people.
    where = {"base_url": server.base_url, "api_key": SANDBOX_API_KEY, "client_id": SANDBOX_CLIENT_ID}
    out.show(record_view(where, labels={k: k for k in where}), "jsonl" if json_out else "table")
    out.info("Sandbox listening; in another terminal: akool --sandbox create examples/photo.png --effect squish"
             + ("" if chosen == configured else f" (after: akool --sandbox config set sandbox_port {chosen})"))
    out.info("Press Ctrl-C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # how a sandbox is meant to stop: not an error
        from akool_cli.core import signals

        signals.mark_reported()
    finally:
        server.server_close()
    out.info("sandbox stopped")


def _save_control_token(path: Path, token: str) -> None:
    """This server's secret, in a 0600 file only this user can read (written once the port is ours: a
    process that lost the race for the port must not overwrite the winner's token)."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)


@sandbox_app.command("stop")
@guarded
def sandbox_stop(ctx: typer.Context) -> None:
    """Stop the sandbox listening on the sandbox port (one started in the background by --sandbox)."""
    import http.client

    from akool_cli.config import SANDBOX_PROFILE, resolve_settings
    from akool_cli.context import probe_sandbox

    state: App = ctx.obj
    port = int(resolve_settings(state.config_store, state.profile_flag or SANDBOX_PROFILE,
                                state.runtime.env)["sandbox_port"].value)
    if probe_sandbox(port) != "sandbox":
        state.renderer.info(f"no sandbox is running on port {port}")
        return
    from akool_cli.core.errors import UsageError

    token_file = state.paths.sandbox_token_file
    token = token_file.read_text().strip() if token_file.exists() else ""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/_sandbox/control/shutdown", body=b"", headers={"X-Sandbox-Token": token})
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    if answer.status == 403:
        raise UsageError(f"the sandbox on port {port} was not started by this user (its control token differs); "
                         "it was not stopped", hint="stop it from the account that started it, or use another "
                                                     "sandbox_port")
    state.renderer.info(f"sandbox on port {port} stopped")
