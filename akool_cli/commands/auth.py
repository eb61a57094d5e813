"""akool auth: log in, see who you are, log out."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import NO_IDS, FormatOption, JsonOption, resolve_format
from akool_cli.output.writers import record_view

auth_app = typer.Typer(name="auth", help="Log in with an API key (or client id and secret), check, log out.", no_args_is_help=True)


def _clean_secret(value: str, what: str) -> str:
    from akool_cli.core.errors import UsageError

    value = value.strip()
    if not value:
        raise UsageError(f"the {what} is empty", hint="paste the value from the Akool console")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise UsageError(f"the {what} contains spaces or control characters",
                         hint="paste exactly the value from the Akool console")
    return value


@auth_app.command("login")
@guarded
def login(
    ctx: typer.Context,
    with_key: Annotated[bool, typer.Option("--with-key", help="Read the API key from stdin (for CI).")] = False,
    client_id: Annotated[Optional[str], typer.Option("--client-id", help="Legacy method: client id (the secret is asked for, or read from stdin with --with-key).")] = None,
    client_secret: Annotated[Optional[str], typer.Option("--client-secret", help="Legacy method: client secret. Prefer stdin: it stays out of shell history.")] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Save without checking with the service.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Save credentials for the profile, after one harmless call to check them."""
    from akool_cli.api.credentials import Credentials
    from akool_cli.config import mask
    from akool_cli.core.errors import UsageError

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    if client_id is not None:
        if client_secret is None:
            if with_key:
                client_secret = state.runtime.stdin.readline()
            elif state.runtime.stdin_tty:
                client_secret = state.read_secret("Client secret: ")
            else:
                raise UsageError("no client secret given and no terminal to ask on",
                                 hint="pipe it in: echo $SECRET | akool auth login --client-id ID --with-key")
        creds = Credentials(client_id=_clean_secret(client_id, "client id"),
                            client_secret=_clean_secret(client_secret, "client secret"), source="file")
    elif client_secret is not None:
        raise UsageError("--client-secret needs --client-id", hint="pass both, or use an API key")
    else:
        if with_key:
            key = state.runtime.stdin.readline()
        elif state.runtime.stdin_tty:
            key = state.read_secret("Akool API key: ")
        else:
            raise UsageError("no terminal to ask for the API key on",
                             hint="pipe it in: echo $AKOOL_API_KEY | akool auth login --with-key")
        creds = Credentials(api_key=_clean_secret(key, "API key"), source="file")

    state.use_credentials(creds)
    balance = None
    if not no_verify:
        # The credit balance is harmless to ask for, proves the key, and is worth seeing.
        from akool_cli.core.errors import ApiAuthError, ApiError

        try:
            balance = state.client().balance()
        except ApiAuthError:
            raise
        except ApiError:  # an account without the balance endpoint: any authenticated call proves the key
            state.client().effects()
    state.credential_store.save(state.profile, creds)
    verified = "not verified (--no-verify)" if no_verify else f"verified against {state.host}"
    if form:  # asked for a format: the result as one record; otherwise people get the lines below
        state.renderer.show(record_view({"profile": state.profile, "method": creds.method, "verified": not no_verify,
                                         "key": mask(creds.api_key or creds.client_secret),
                                         "file": str(state.credential_store.path), "credit": balance}), form)
    else:
        state.renderer.info(f"Logged in to profile '{state.profile}' with {creds.method} "
                            f"{mask(creds.api_key or creds.client_secret)}: {verified}.")
        if balance is not None:
            state.renderer.info(f"Balance: {balance:g} credits.")
        state.renderer.info(f"Saved to {state.credential_store.path} (mode 0600).")


@auth_app.command("status")
@guarded
def auth_status(
    ctx: typer.Context,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Which profile and method are in use, the key masked, and where it came from."""
    from akool_cli.config import mask
    from akool_cli.core.errors import AuthError

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS)
    creds = state.credentials
    info = {
        "profile": state.profile,
        "method": creds.method,
        "key": mask(creds.api_key or creds.client_secret),
        "client_id": creds.client_id,
        "source": creds.source,
        "base_url": state.base_url,
        "file": str(state.credential_store.path),
    }
    state.renderer.show(record_view(info, labels={"key": "Key", "client_id": "Client id", "base_url": "Base URL"}),
                        form)
    if creds.method is None:
        raise AuthError(f"not logged in (profile '{state.profile}')",
                        hint="run: akool auth login (or set AKOOL_API_KEY)")


@auth_app.command("logout")
@guarded
def logout(
    ctx: typer.Context,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Forget the saved credentials of the profile."""
    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    removed = state.credential_store.delete(state.profile)
    if form:
        state.renderer.show(record_view({"profile": state.profile, "removed": removed}), form)
    else:
        state.renderer.info(f"Logged out of profile '{state.profile}'." if removed
                            else f"Profile '{state.profile}' had no saved credentials.")
    if state.runtime.env.get("AKOOL_API_KEY"):
        state.renderer.warn("AKOOL_API_KEY is still set in the environment and will be used")
