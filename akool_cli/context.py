"""What a command needs, built once per invocation and injected: runtime, settings, client, history.

Heavy modules (httpx, rich, sqlite) are imported only when a command asks for them, so that
`akool --version` and `akool cost` start about as fast as Python itself.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping

from akool_cli.api.credentials import Credentials
from akool_cli.config import (
    DEFAULT_PROFILE,
    SANDBOX_PROFILE,
    ConfigStore,
    CredentialStore,
    Paths,
    ResolvedSetting,
    credentials_from_env,
    resolve_settings,
)

if TYPE_CHECKING:
    from akool_cli.api.client import AkoolClient, RequestLog
    from akool_cli.api.s3 import S3Uploader
    from akool_cli.api.effects import ListCache
    from akool_cli.api.models import AiModel, Effect
    from akool_cli.api.uploads import Uploader
    from akool_cli.flows.deps import Deps
    from akool_cli.flows.events import Events
    from akool_cli.output.render import Renderer
    from akool_cli.pricing.plan import Defaults
    from akool_cli.store.history import History


@dataclass
class Runtime:
    """The outside world. Tests build their own instead of monkeypatching."""

    env: Mapping[str, str]
    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_tty: bool = False
    stdout_tty: bool = False
    stderr_tty: bool = False
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    paths: Paths | None = None
    # Prompts read the terminal through this; tests answer it.
    confirm: Callable[[str], bool] | None = None
    read_secret: Callable[[str], str] | None = None

    @classmethod
    def from_os(cls) -> "Runtime":
        def isatty(stream: Any) -> bool:
            try:
                return bool(stream.isatty())
            except (AttributeError, ValueError):
                return False

        return cls(env=os.environ, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr,
                   stdin_tty=isatty(sys.stdin), stdout_tty=isatty(sys.stdout), stderr_tty=isatty(sys.stderr))


def sandbox_base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def probe_sandbox(port: int, timeout: float = 1.0) -> str:
    """"sandbox" when an akool sandbox answers its health endpoint on the port, "other" when
    something else listens there, "none" when nothing does. An open port alone proves nothing."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/_sandbox/control/health")
        answer = conn.getresponse()
        body = answer.read(1024)
    except ConnectionRefusedError:
        return "none"
    except (OSError, http.client.HTTPException):
        return "other"
    finally:
        conn.close()
    try:
        return "sandbox" if answer.status == 200 and json.loads(body) == {"sandbox": True} else "other"
    except ValueError:
        return "other"


@dataclass
class App:
    runtime: Runtime
    profile_flag: str | None = None
    sandbox: bool = False
    verbose: bool = False
    # Said when Ctrl-C stops a command: how to pick up what was already paid for.
    resume_hint: str | None = None
    # The API calls' overall time: "default" is command_deadline; limit_time() sets --timeout or None.
    time_limit: "float | None | str" = "default"
    # Where flows report (flows.events): None is the renderer; MCP sets a Collector per tool call.
    events: "Events | None" = None
    # --concurrency as the account's ceiling on a shared ledger (a shard's own pool takes only its part).
    concurrency_ceiling: int | None = None
    _client: "AkoolClient | None" = field(default=None, init=False)
    _history: "History | None" = field(default=None, init=False)

    # ------------------------------------------------------------ identity and settings

    @cached_property
    def paths(self) -> Paths:
        return self.runtime.paths or Paths.from_env(self.runtime.env)

    @cached_property
    def profile(self) -> str:
        if self.profile_flag:
            return self.profile_flag
        if self.sandbox:
            return SANDBOX_PROFILE
        return self.runtime.env.get("AKOOL_PROFILE") or DEFAULT_PROFILE

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox or self.profile == SANDBOX_PROFILE

    @cached_property
    def config_store(self) -> ConfigStore:
        return ConfigStore(self.paths.config_file)

    @cached_property
    def credential_store(self) -> CredentialStore:
        return CredentialStore(self.paths.credentials_file)

    @cached_property
    def settings(self) -> dict[str, ResolvedSetting]:
        resolved = resolve_settings(self.config_store, self.profile, self.runtime.env)
        url = sandbox_base_url(resolved["sandbox_port"].value)
        if self.sandbox:
            # --sandbox is a wall: no environment variable or profile setting sends it anywhere else.
            ignored = [name for name, present in (
                ("AKOOL_BASE_URL", bool(self.runtime.env.get("AKOOL_BASE_URL"))),
                ("the profile's base_url", resolved["base_url"].source == "profile" and resolved["base_url"].value != url),
                ("AKOOL_API_KEY", bool(self.runtime.env.get("AKOOL_API_KEY"))),
                ("AKOOL_CLIENT_ID", bool(self.runtime.env.get("AKOOL_CLIENT_ID"))),
            ) if present]
            if ignored:
                self.renderer.info(f"note: --sandbox ignores {', '.join(ignored)}: "
                                   f"requests go to the local sandbox at {url} only")
            resolved["base_url"] = ResolvedSetting("base_url", url, "sandbox")
        elif self.is_sandbox and resolved["base_url"].source == "default":
            resolved["base_url"] = ResolvedSetting("base_url", url, "sandbox")
        return resolved

    def setting(self, key: str) -> Any:
        return self.settings[key].value

    @property
    def base_url(self) -> str:
        return str(self.setting("base_url"))

    @cached_property
    def credentials(self) -> Credentials:
        # The local sandbox takes only its own key: a real AKOOL_API_KEY exported for CI must
        # neither be sent to it nor make it refuse every call.
        local_sandbox = self.is_sandbox and self.settings["base_url"].source == "sandbox"
        if self.sandbox:
            from akool_cli.sandbox import SANDBOX_API_KEY

            return Credentials(api_key=SANDBOX_API_KEY, source="sandbox")
        from_env = None if local_sandbox else credentials_from_env(self.runtime.env)
        if from_env:
            return from_env
        stored = self.credential_store.load(self.profile)
        if stored.method:
            return stored
        if self.is_sandbox:
            from akool_cli.sandbox import SANDBOX_API_KEY

            return Credentials(api_key=SANDBOX_API_KEY, source="sandbox")
        return stored

    def use_credentials(self, creds: Credentials) -> None:
        """Credentials given to this command (auth login): used for its calls and scrubbed from its output."""
        self.__dict__["credentials"] = creds
        if self._client is not None:
            self._client.credentials = creds

    def secrets(self) -> list[str]:
        """Every secret this invocation knows, so output can be scrubbed of them."""
        found = [v for k, v in self.runtime.env.items()
                 if k in ("AKOOL_API_KEY", "AKOOL_CLIENT_SECRET", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY") and v]
        ledger = self.runtime.env.get("AKOOL_LEDGER_URL", "")
        if ledger:
            from urllib.parse import unquote, urlsplit

            try:
                password = urlsplit(ledger).password
            except ValueError:
                password = None
            found += [password, unquote(password)] if password else []
        try:
            found += self.credentials.secrets()
        except Exception:  # noqa: BLE001 - a broken credential file has no secrets to hide
            pass
        return [s for s in found if len(s) >= 4]

    # ------------------------------------------------------------ services

    @cached_property
    def renderer(self) -> "Renderer":
        from akool_cli.output.render import Renderer

        rt = self.runtime
        from akool_cli.options import SELECTED_FIELDS

        renderer = Renderer(rt.stdout, rt.stderr, out_tty=rt.stdout_tty, err_tty=rt.stderr_tty, env=rt.env,
                            clock=rt.clock)
        renderer.fields = SELECTED_FIELDS.get()
        return renderer

    def client(self) -> "AkoolClient":
        if self._client is None:
            from akool_cli.api.client import AkoolClient, RetryPolicy

            self._start_embedded_sandbox()
            creds = self.credentials
            # A token minted for stored credentials is cached with them (valid about a year).
            on_token = (lambda token: self.credential_store.save_token(self.profile, token)) \
                if creds.source == "file" else None
            self._client = AkoolClient(
                self.base_url,
                creds,
                timeout=self.setting("timeout"),
                connect_timeout=self.setting("connect_timeout"),
                retry=RetryPolicy(retries=self.setting("retries")),
                sleep=self.runtime.sleep,
                on_request=self._log_request if self.verbose else None,
                on_token=on_token,
                env=self.runtime.env,
                deadline=float(self.setting("request_deadline")),
            )
            limit = self.time_limit
            self._client.limit(float(self.setting("command_deadline")) if isinstance(limit, str) else limit)
        return self._client

    def limit_time(self, seconds: float | None) -> None:
        """This command's overall time for its API calls: --timeout, or None for a command that waits for
        jobs without one (each call is still bounded by request_deadline and its retries)."""
        self.time_limit = seconds
        if self._client is not None:
            self._client.limit(seconds)

    def _log_request(self, log: "RequestLog") -> None:
        outcome = str(log.status) if log.status is not None else (log.error or "no answer")
        retry = f" retry {log.attempt}" if log.attempt else ""
        headers = " ".join(f"{k}: {v}" for k, v in log.headers.items())
        line = f"> {log.method} {log.url} -> {outcome} ({log.elapsed_ms:.0f} ms{retry})"
        self.renderer.info(line + (f" [{headers}]" if headers else ""))

    def _start_embedded_sandbox(self) -> None:
        """`--sandbox` with no sandbox running: start one as a detached background process that
        stops after `sandbox_idle_timeout` seconds without a request, so that parallel and later
        commands share it (and its jobs). `akool sandbox stop` ends it sooner."""
        if not self.is_sandbox or self.settings["base_url"].source != "sandbox":
            return
        from akool_cli.core.errors import UsageError

        port = int(self.setting("sandbox_port"))
        found = probe_sandbox(port)
        if found == "sandbox":
            return
        if found == "other":
            raise UsageError(f"port {port} is in use by something that is not an akool sandbox",
                             hint="choose another port: akool --sandbox config set sandbox_port 8766")
        self._spawn_sandbox(port)

    def _spawn_sandbox(self, port: int) -> None:
        import subprocess

        from akool_cli.core.errors import UsageError

        env = dict(self.runtime.env)
        env.update(AKOOL_CONFIG_DIR=str(self.paths.config_dir), AKOOL_DATA_DIR=str(self.paths.data_dir),
                   AKOOL_CACHE_DIR=str(self.paths.cache_dir))
        self.paths.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.paths.data_dir / "sandbox.log", "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "akool_cli", "sandbox", "--port", str(port), "--idle-timeout",
                 str(self.setting("sandbox_idle_timeout"))],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True)
        (self.paths.data_dir / "sandbox.pid").write_text(f"{child.pid}\n")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if probe_sandbox(port, timeout=0.5) == "sandbox":
                if self.verbose:
                    self.renderer.info(f"started a background sandbox at {sandbox_base_url(port)} (pid {child.pid})")
                return
            if child.poll() is not None and probe_sandbox(port, timeout=0.5) == "none":
                # Lost a race with another process, whose sandbox is still starting: give it a moment.
                time.sleep(0.05)
            time.sleep(0.02)
        raise UsageError(f"the sandbox did not start on port {port}",
                         hint=f"see {self.paths.data_dir / 'sandbox.log'}, or run 'akool sandbox' in another terminal")

    def history(self, shared: bool = False) -> "History":
        if self._history is None:
            from akool_cli.store.history import History

            url = None if self.is_sandbox and self.settings["base_url"].source == "sandbox" \
                else self.setting("ledger.url")  # the sandbox's play money never goes to a team's ledger
            self._history = History(self.paths.history_file, self.runtime.clock, shared=shared, url=url)
        return self._history

    def effect_cache(self) -> "ListCache[Effect]":
        from akool_cli.api.effects import EffectCache, cache_file

        return EffectCache(cache_file(self.paths.cache_dir, self.base_url), float(self.setting("effects_cache_ttl")),
                           self.runtime.clock)

    def effects(self, refresh: bool = False) -> "list[Effect]":
        from akool_cli.api.effects import get_effects

        return get_effects(lambda: self.client().effects(), self.effect_cache(), refresh)

    def models(self, refresh: bool = False) -> "list[AiModel]":
        from akool_cli.api.effects import ListCache, cache_file, get_cached
        from akool_cli.api.models import AiModel

        cache = ListCache(cache_file(self.paths.cache_dir, self.base_url, "models"),
                          float(self.setting("effects_cache_ttl")), AiModel.from_api, "models", self.runtime.clock)
        return get_cached(lambda: self.client().models(), cache, refresh)

    def deps(self) -> "Deps":
        """What a flow may use: the client, history and uploader are made when first asked for. Events go
        to `self.events` when set (MCP collects them per tool call), else to the renderer."""
        from akool_cli.flows.deps import Deps

        return Deps(client=self.client, history=self.history, uploader=self.uploader, setting=self.setting,
                    events=self.events or self.renderer, command=self.command, profile=self.profile,
                    base_url=self.base_url, is_loopback=self.is_loopback, clock=self.runtime.clock,
                    sleep=self.runtime.sleep, monotonic=self.runtime.monotonic)

    def plan_defaults(self) -> "Defaults":
        from akool_cli.pricing.plan import Defaults

        return Defaults(resolution=str(self.setting("default_resolution")), length=int(self.setting("default_length")),
                        negative_prompt=self.setting("negative_prompt"), effects=self.effects, models=self.models)

    def live_balance(self) -> float | None:
        """The account's credits, or None when the balance endpoint does not answer usefully (say so)."""
        from akool_cli.core.errors import ApiAuthError, ApiError, TransportError

        try:
            return self.client().balance()
        except ApiAuthError:
            raise
        except (ApiError, TransportError) as error:
            self.renderer.warn(f"the credit balance is unknown ({error.message}); not checked against it")
            return None

    def uploader(self) -> "Uploader":
        from akool_cli.api.uploads import make_uploader

        sandbox_send = None
        if self.is_sandbox:
            sandbox_send = lambda name, content: self.client().upload_to_sandbox(name, content)  # noqa: E731
        # With --sandbox, files go to the sandbox only: a configured uploader would publish them elsewhere.
        backend = None if self.sandbox else self.upload_backend
        command = self.setting("upload.command") if backend == "command" else None
        s3 = self.s3_uploader() if backend == "s3" else None
        return make_uploader(command, float(self.setting("upload.timeout")), self.runtime.env, sandbox_send, s3)

    @property
    def upload_backend(self) -> str | None:
        """upload.backend, else `command` when upload.command is set (how it worked before the setting)."""
        chosen = self.setting("upload.backend")
        return str(chosen) if chosen else ("command" if self.setting("upload.command") else None)

    def s3_uploader(self) -> "S3Uploader":
        from akool_cli.api.s3 import S3BACKEND_SPEC, S3Settings, S3Uploader
        from akool_cli.core.install import add_package_hint

        settings = S3Settings(bucket=str(self.setting("upload.bucket") or ""), prefix=str(self.setting("upload.prefix")),
                              endpoint_url=self.setting("upload.endpoint_url"), region=self.setting("upload.region"),
                              expires=int(self.setting("upload.expires")), aws_profile=self.setting("upload.aws_profile"))
        return S3Uploader(settings, clock=self.runtime.clock, record=lambda stored: self.history().record_upload(stored),
                          install_hint=add_package_hint(S3BACKEND_SPEC))

    def confirm(self, question: str) -> bool:
        try:
            if self.runtime.confirm is not None:
                return self.runtime.confirm(question)
            from rich.prompt import Confirm

            return Confirm.ask(question, console=self.renderer.err, default=False)
        except EOFError:
            from akool_cli.core.errors import Declined

            raise Declined("no answer (end of input at the prompt); nothing was sent") from None

    def read_secret(self, prompt: str) -> str:
        try:
            if self.runtime.read_secret is not None:
                return self.runtime.read_secret(prompt)
            import getpass

            return getpass.getpass(prompt)
        except EOFError:
            from akool_cli.core.errors import Declined

            raise Declined("no answer (end of input at the prompt); nothing was saved") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._history is not None:
            self._history.close()

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.base_url).netloc

    @property
    def is_loopback(self) -> bool:
        from urllib.parse import urlsplit

        host = (urlsplit(self.base_url).hostname or "").lower()
        return host in ("localhost", "::1") or host.startswith("127.")

    @property
    def target_label(self) -> str:
        """Where paid requests go, for the cost panel and --dry-run."""
        if self.is_sandbox and self.settings["base_url"].source == "sandbox":
            return f"sandbox at {self.host}, no credits"
        return f"profile {self.profile} at {self.host}"

    def global_args(self) -> list[str]:
        """The global options a pasted command needs to reach the same place with the same keys."""
        if self.sandbox:
            return ["--sandbox"] + (["--profile", self.profile_flag] if self.profile_flag else [])
        if self.profile != DEFAULT_PROFILE:
            return ["--profile", self.profile]
        return []

    def command(self, *args: str) -> str:
        """A command line to paste, e.g. a free way to continue after a paid command stopped."""
        import shlex

        return shlex.join(["akool", *self.global_args(), *args])
