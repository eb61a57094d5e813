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

from akool_cli.config import (DEFAULT_PROFILE, SANDBOX_PROFILE, ConfigStore, Credentials, CredentialStore,
                              Paths, ResolvedSetting, credentials_from_env, resolve_settings)

if TYPE_CHECKING:
    from akool_cli.client import AkoolClient, RequestLog
    from akool_cli.effects import EffectCache
    from akool_cli.history import History
    from akool_cli.models import Effect
    from akool_cli.render import Renderer
    from akool_cli.sandbox import SandboxServer
    from akool_cli.uploads import Uploader


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


def _listening(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


@dataclass
class App:
    runtime: Runtime
    profile_flag: str | None = None
    sandbox: bool = False
    verbose: bool = False
    # Said when Ctrl-C stops a command: how to pick up what was already paid for.
    resume_hint: str | None = None
    _client: "AkoolClient | None" = field(default=None, init=False)
    _history: "History | None" = field(default=None, init=False)
    _embedded: "SandboxServer | None" = field(default=None, init=False)

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
        if self.is_sandbox and resolved["base_url"].source == "default":
            url = sandbox_base_url(resolved["sandbox_port"].value)
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
        found = [v for k, v in self.runtime.env.items() if k in ("AKOOL_API_KEY", "AKOOL_CLIENT_SECRET") and v]
        try:
            found += self.credentials.secrets()
        except Exception:  # noqa: BLE001 - a broken credential file has no secrets to hide
            pass
        return [s for s in found if len(s) >= 4]

    # ------------------------------------------------------------ services

    @cached_property
    def renderer(self) -> "Renderer":
        from akool_cli.render import Renderer

        rt = self.runtime
        return Renderer(rt.stdout, rt.stderr, out_tty=rt.stdout_tty, err_tty=rt.stderr_tty, env=rt.env,
                        clock=rt.clock)

    def client(self) -> "AkoolClient":
        if self._client is None:
            from akool_cli.client import AkoolClient, RetryPolicy

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
            )
        return self._client

    def _log_request(self, log: "RequestLog") -> None:
        outcome = str(log.status) if log.status is not None else (log.error or "no answer")
        retry = f" retry {log.attempt}" if log.attempt else ""
        headers = " ".join(f"{k}: {v}" for k, v in log.headers.items())
        line = f"> {log.method} {log.url} -> {outcome} ({log.elapsed_ms:.0f} ms{retry})"
        self.renderer.info(line + (f" [{headers}]" if headers else ""))

    def _start_embedded_sandbox(self) -> None:
        """`--sandbox` with no sandbox running: serve one inside this process, state kept on disk."""
        if not self.is_sandbox or self.settings["base_url"].source != "sandbox":
            return
        port = int(self.setting("sandbox_port"))
        if _listening("127.0.0.1", port):
            return
        from akool_cli.sandbox import SandboxConfig, SandboxServer

        config = SandboxConfig(port=port, state_file=self.paths.sandbox_state_file)
        try:
            self._embedded = SandboxServer(config).start()
        except OSError:
            return  # lost a race with another process starting one: use theirs
        if self.verbose:
            self.renderer.info(f"started an embedded sandbox at {self._embedded.base_url}")

    def history(self, shared: bool = False) -> "History":
        if self._history is None:
            from akool_cli.history import History

            self._history = History(self.paths.history_file, self.runtime.clock, shared=shared)
        return self._history

    def effect_cache(self) -> "EffectCache":
        from akool_cli.effects import EffectCache, cache_file

        return EffectCache(cache_file(self.paths.cache_dir, self.base_url), float(self.setting("effects_cache_ttl")),
                           self.runtime.clock)

    def effects(self, refresh: bool = False) -> "list[Effect]":
        from akool_cli.effects import get_effects

        return get_effects(lambda: self.client().effects(), self.effect_cache(), refresh)

    def uploader(self) -> "Uploader":
        from akool_cli.uploads import make_uploader

        sandbox_send = None
        if self.is_sandbox:
            sandbox_send = lambda name, content: self.client().upload_to_sandbox(name, content)  # noqa: E731
        return make_uploader(self.setting("upload.command"), float(self.setting("upload.timeout")),
                             self.runtime.env, sandbox_send)

    def confirm(self, question: str) -> bool:
        if self.runtime.confirm is not None:
            return self.runtime.confirm(question)
        from rich.prompt import Confirm

        return Confirm.ask(question, console=self.renderer.err, default=False)

    def read_secret(self, prompt: str) -> str:
        if self.runtime.read_secret is not None:
            return self.runtime.read_secret(prompt)
        import getpass

        return getpass.getpass(prompt)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._history is not None:
            self._history.close()
        if self._embedded is not None:
            self._embedded.stop()

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.base_url).netloc
