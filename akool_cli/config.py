"""Where files live, the settings table, profiles, and the credential store."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from akool_cli.api.credentials import Credentials
from akool_cli.core.errors import ConfigError, UsageError
from akool_cli.pricing.prices import LENGTHS, RESOLUTIONS

APP_NAME = "akool"
DEFAULT_BASE_URL = "https://openapi.akool.com"
DEFAULT_PROFILE = "default"
SANDBOX_PROFILE = "sandbox"
DEFAULT_SANDBOX_PORT = 8765

if TYPE_CHECKING:
    from pathlib import Path


class Paths(NamedTuple):
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Paths":
        from pathlib import Path

        if sys.platform.startswith("linux"):
            # The XDG rules platformdirs applies on Linux, without its ~3 ms import on every command.
            home = Path(os.path.expanduser("~"))

            def xdg(var: str, default: str) -> str:
                return str(Path(os.environ.get(var) or home / default) / APP_NAME)

            user_config = xdg("XDG_CONFIG_HOME", ".config")
            user_data = xdg("XDG_DATA_HOME", ".local/share")
            user_cache = xdg("XDG_CACHE_HOME", ".cache")
        else:
            import platformdirs

            user_config = platformdirs.user_config_dir(APP_NAME)
            user_data = platformdirs.user_data_dir(APP_NAME)
            user_cache = platformdirs.user_cache_dir(APP_NAME)
        return cls(config_dir=Path(env.get("AKOOL_CONFIG_DIR") or user_config),
                   data_dir=Path(env.get("AKOOL_DATA_DIR") or user_data),
                   cache_dir=Path(env.get("AKOOL_CACHE_DIR") or user_cache))

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def credentials_file(self) -> Path:
        return self.config_dir / "credentials.toml"

    @property
    def history_file(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def sandbox_state_file(self) -> Path:
        return self.data_dir / "sandbox-state.json"

    @property
    def sandbox_token_file(self) -> Path:
        """The secret that lets `akool sandbox stop` stop this user's sandbox, and no one else's (0600)."""
        return self.data_dir / "sandbox-control.token"


# ---------------------------------------------------------------- settings


def _seconds(low: float, high: float) -> Callable[[Any], float]:
    """A number of seconds within sane bounds: 1e-300 would poll in a busy loop, 1e300 never end."""
    def check(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        number = float(value)
        if not low <= number <= high:  # also false for nan
            raise ValueError(f"expected a number of seconds from {low:g} to {high:g}")
        return number

    return check


def _upload_command(value: Any) -> str:
    from akool_cli.api.uploads import check_upload_command

    try:
        return check_upload_command(_text(value))
    except UsageError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}") from None


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("expected a whole number")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return check


def _choice(choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        for choice in choices:
            if str(value).lower() == str(choice).lower() and not isinstance(value, bool):
                return choice
        raise ValueError("expected one of " + ", ".join(str(c) for c in choices))

    return check


def _url(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise ValueError("expected an http:// or https:// URL")
    return text


def _ledger_url(value: Any) -> str:
    from urllib.parse import urlsplit

    text = _text(value).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError("expected postgresql://USER@HOST[:PORT]/DB") from None
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname and not parts.path.strip("/"):
        raise ValueError("expected postgresql://USER@HOST[:PORT]/DB")
    if parts.password:
        raise ValueError("a password does not belong in the config file: put it in PGPASSWORD or ~/.pgpass "
                         "(or the whole URL in AKOOL_LEDGER_URL)")
    return text


def _matching(regex: str, expected: str, tidy: Callable[[str], str] = str) -> Callable[[Any], str]:
    """A text setting that must match `regex` (after `tidy`): bucket names, folders, regions."""
    def check(value: Any) -> str:
        import re

        text = tidy(_text(value).strip())
        if not re.fullmatch(regex, text) or "//" in text or ".." in text.split("/"):
            raise ValueError(f"expected {expected}")
        return text

    return check


def _folder(text: str) -> str:
    text = text.lstrip("/")
    return text if not text or text.endswith("/") else text + "/"


_bucket = _matching(r"[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]", "a bucket name: 3-63 lowercase letters, digits, dots and hyphens")
_prefix = _matching(r"[A-Za-z0-9!_.*'()/\-]{1,200}", "a folder such as akool-cli/ (letters, digits, - _ . / only)", _folder)
_region = _matching(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", "a name such as eu-west-1 (letters, digits, - _ .)")
_aws_profile = _matching(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", "an AWS profile's name (letters, digits, - _ .)")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value


class Setting(NamedTuple):
    key: str
    check: Callable[[Any], Any]
    default: Any
    help: str


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("base_url", _url, DEFAULT_BASE_URL, "API base URL (env AKOOL_BASE_URL overrides)"),
        Setting("default_resolution", _choice(RESOLUTIONS), "720p", "resolution when --resolution is not given"),
        Setting("default_length", _choice(LENGTHS), 5, "video length in seconds when --length is not given"),
        Setting("negative_prompt", _text, None, "negative prompt when --negative-prompt is not given"),
        Setting("poll_interval", _seconds(0.05, 3600), 2.0,
                "first wait between status polls, seconds (at least 1 s against a remote service)"),
        Setting("poll_max_interval", _seconds(0.05, 3600), 15.0, "longest wait between status polls, seconds"),
        Setting("timeout", _seconds(0.1, 3600), 30.0, "read timeout for each HTTP read, seconds"),
        Setting("connect_timeout", _seconds(0.1, 600), 10.0, "connect timeout for each HTTP request, seconds"),
        Setting("request_deadline", _seconds(1, 3600), 60.0,
                "longest one API request may take, connect and all reads, seconds"),
        Setting("command_deadline", _seconds(1, 86400), 120.0,
                "longest the API calls of a command that does not wait may take, retries included, seconds"),
        Setting("retries", _int_between(0, 10), 4, "retries of safe requests on HTTP 429/5xx and network errors"),
        Setting("concurrency", _int_between(1, 16), 2, "jobs submitted at once by a batch create"),
        Setting("max_credits", _int_between(0, 10**9), None,
                "most credits one command (or one akool mcp session) may spend, counted at the high estimate "
                "and then at what was charged (--max-credits overrides)"),
        Setting("budget.daily", _int_between(0, 10**9), None,
                "most credits this profile may spend per UTC day, across every process on this machine"),
        Setting("budget.monthly", _int_between(0, 10**9), None,
                "most credits this profile may spend per calendar month (UTC), across every process"),
        Setting("mcp.session_credits", _int_between(0, 10**9), None,
                "most credits one akool mcp session may spend (--session-credits overrides)"),
        Setting("effects_cache_ttl", _int_between(0, 30 * 86400), 86400, "how long the effect list is cached, seconds"),
        Setting("upload.command", _upload_command, None,
                "shell command that uploads \"$AKOOL_UPLOAD_FILE\" and prints its public URL"),
        Setting("upload.timeout", _seconds(0.1, 86400), 300.0, "how long the upload command may run, seconds"),
        Setting("upload.backend", _choice(("command", "s3")), None,
                "how local files become URLs: command (upload.command) or s3 (a private bucket, presigned "
                "links; the s3 extra); default: command when upload.command is set"),
        Setting("upload.bucket", _bucket, None, "s3 backend: the bucket (private; this tool writes under upload.prefix)"),
        Setting("upload.prefix", _prefix, "akool-cli/", "s3 backend: the folder of the bucket this tool owns"),
        Setting("upload.endpoint_url", _url, None,
                "s3 backend: an S3-compatible endpoint (Cloudflare R2, Backblaze B2, MinIO, GCS); default AWS"),
        Setting("upload.region", _region, None, "s3 backend: the bucket's region (default: the AWS config's)"),
        Setting("upload.expires", _int_between(3600, 604800), 86400,
                "s3 backend: how long a presigned link works, seconds (1 h, as long as a job may wait in the "
                "queue, to 7 days, SigV4's limit)"),
        Setting("upload.aws_profile", _aws_profile, None,
                "s3 backend: a named AWS profile for credentials (default: the standard AWS chain)"),
        Setting("ledger.url", _ledger_url, None,
                "a shared ledger: postgresql://USER@HOST/DB (the postgres extra) holds the history, batch runs, "
                "budgets and the account's concurrency for every machine; the password from PGPASSWORD or "
                "~/.pgpass, never from here (env AKOOL_LEDGER_URL overrides)"),
        Setting("sandbox_port", _int_between(1, 65535), DEFAULT_SANDBOX_PORT,
                "port of the local sandbox (one for every profile: kept in profile sandbox)"),
        Setting("sandbox_idle_timeout", _seconds(1, 86400), 900.0,
                "a background sandbox started by --sandbox stops after this long unused, seconds"),
    )
}


def shown(key: str, value: Any) -> Any:
    """A setting's value as it may be printed: the ledger's URL never with a password (AKOOL_LEDGER_URL)."""
    if key == "ledger.url" and isinstance(value, str):
        from akool_cli.store.pg import masked

        return masked(value)
    return value


def parse_setting(key: str, value: Any) -> Any:
    setting = SETTINGS.get(key)
    if setting is None:
        raise UsageError(f"unknown config key '{key}'", hint="valid keys: " + ", ".join(SETTINGS))
    try:
        return setting.check(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad value for {key}: {value!r} ({exc})", hint=f"{key}: {setting.help}") from None


# ---------------------------------------------------------------- TOML files


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except PermissionError:
        raise ConfigError(f"cannot read {path}: permission denied",
                          hint=f"fix its permissions (chmod 600 {path}) or remove it") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, expected a TOML file", hint="remove or rename it") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="check the file and its folder") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised only on 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})",
                          hint=f"fix the file or delete it to start over (rm {path})") from None


def write_toml(path: Path, data: dict[str, Any], *, private: bool = False) -> None:
    """Write atomically; a private file is never readable by others, not even for a moment."""
    import tempfile
    from pathlib import Path

    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _profiles(data: dict[str, Any], path: Path) -> dict[str, Any]:
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(f"{path}: 'profiles' must be a table of tables", hint=f"fix the file or remove it ({path})")
    return profiles


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


class ConfigStore:
    """The settings file: `[profiles.NAME]` tables of the keys in SETTINGS."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def profile_values(self, profile: str) -> dict[str, Any]:
        profiles = _profiles(read_toml(self.path), self.path)
        flat = _flatten(profiles.get(profile, {}))
        values: dict[str, Any] = {}
        for key, value in flat.items():
            if key not in SETTINGS:
                raise ConfigError(f"{self.path}: unknown key '{key}' in profile '{profile}'",
                                  hint=f"remove it with: akool config unset {key}")
            try:
                values[key] = SETTINGS[key].check(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{self.path}: bad value for '{key}' in profile '{profile}' ({exc})",
                                  hint=f"set it again with: akool config set {key} VALUE") from None
        return values

    def set(self, profile: str, key: str, value: Any) -> None:
        data = read_toml(self.path)
        profiles = _profiles(data, self.path)
        flat = _flatten(profiles.get(profile, {}))
        flat[key] = value
        profiles[profile] = _nest(flat)
        data["profiles"] = profiles
        write_toml(self.path, data)

    def unset(self, profile: str, key: str) -> bool:
        data = read_toml(self.path)
        profiles = _profiles(data, self.path)
        flat = _flatten(profiles.get(profile, {}))
        if key not in flat:
            return False
        del flat[key]
        profiles[profile] = _nest(flat)
        data["profiles"] = profiles
        write_toml(self.path, data)
        return True


class ResolvedSetting(NamedTuple):
    key: str
    value: Any
    source: str  # "default", "profile", "env" or "flag"


# Settings of the machine rather than of a profile, kept in one profile whatever --profile says: there is
# one local sandbox, so `akool --sandbox --profile work ...` finds it where `akool --sandbox` does.
ONE_PROFILE = {"sandbox_port": SANDBOX_PROFILE}


def profile_for(key: str, profile: str) -> str:
    """The profile a setting is written to: its owner for a machine setting, else the one given."""
    return ONE_PROFILE.get(key, profile)


def resolve_settings(store: ConfigStore, profile: str, env: Mapping[str, str],
                     overrides: Mapping[str, Any] | None = None) -> dict[str, ResolvedSetting]:
    """Flags beat env, env beats the profile, the profile beats defaults."""
    stored = store.profile_values(profile)
    resolved = {key: ResolvedSetting(key, s.default, "default") for key, s in SETTINGS.items()}
    for key, value in stored.items():
        if key not in ONE_PROFILE:
            resolved[key] = ResolvedSetting(key, value, "profile")
    for key, owner in ONE_PROFILE.items():
        owned = stored if owner == profile else store.profile_values(owner)
        if key in owned:
            resolved[key] = ResolvedSetting(key, owned[key], "profile" if owner == profile else f"profile {owner}")
    if env.get("AKOOL_BASE_URL"):
        try:
            resolved["base_url"] = ResolvedSetting("base_url", _url(env["AKOOL_BASE_URL"]), "env")
        except ValueError:
            raise ConfigError(f"AKOOL_BASE_URL is not an http(s) URL: {env['AKOOL_BASE_URL']!r}",
                              hint="unset it or set it to e.g. https://openapi.akool.com") from None
    if env.get("AKOOL_LEDGER_URL"):  # may carry a password (CI secrets): env only, shown masked
        resolved["ledger.url"] = ResolvedSetting("ledger.url", env["AKOOL_LEDGER_URL"].strip(), "env")
    for key, value in (overrides or {}).items():
        resolved[key] = ResolvedSetting(key, value, "flag")
    return resolved


# ---------------------------------------------------------------- credentials


def mask(secret: str | None) -> str:
    if not secret:
        return "-"
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


class CredentialStore:
    """A TOML file of `[profiles.NAME]` secrets, mode 0600, re-tightened when found looser."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tightened = False

    def _read(self) -> dict[str, Any]:
        import stat

        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return {}
        except OSError:
            return read_toml(self.path)
        if stat.S_ISLNK(info.st_mode):
            # chmod would follow the link and change some other file's mode: refuse instead.
            raise ConfigError(f"{self.path} is a symbolic link; credentials are only read from a regular file",
                              hint=f"replace it with the file itself (mv the target to {self.path})")
        if info.st_mode & 0o077:
            try:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                try:
                    os.fchmod(fd, 0o600)
                finally:
                    os.close(fd)
                self.tightened = True
            except OSError:
                raise ConfigError(f"{self.path} is readable by other users and cannot be fixed",
                                  hint=f"run: chmod 600 {self.path}") from None
        return read_toml(self.path)

    def load(self, profile: str) -> Credentials:
        entry = _profiles(self._read(), self.path).get(profile, {})
        fields = {}
        for key in ("api_key", "client_id", "client_secret", "token"):
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{self.path}: '{key}' in profile '{profile}' must be text",
                                  hint=f"log in again: akool auth login --profile {profile}")
            fields[key] = value or None
        creds = Credentials(**fields, source="file")
        return creds if creds.method else Credentials()

    def save(self, profile: str, creds: Credentials) -> None:
        data = self._read()
        profiles = _profiles(data, self.path)
        entry = {k: v for k, v in (("api_key", creds.api_key), ("client_id", creds.client_id),
                                   ("client_secret", creds.client_secret), ("token", creds.token)) if v}
        profiles[profile] = entry
        data["profiles"] = profiles
        write_toml(self.path, data, private=True)

    def save_token(self, profile: str, token: str) -> None:
        data = self._read()
        profiles = _profiles(data, self.path)
        if profile in profiles:
            profiles[profile]["token"] = token
            data["profiles"] = profiles
            write_toml(self.path, data, private=True)

    def delete(self, profile: str) -> bool:
        data = self._read()
        profiles = _profiles(data, self.path)
        if profile not in profiles:
            return False
        del profiles[profile]
        data["profiles"] = profiles
        write_toml(self.path, data, private=True)
        return True


def credentials_from_env(env: Mapping[str, str]) -> Credentials | None:
    if env.get("AKOOL_API_KEY"):
        return Credentials(api_key=env["AKOOL_API_KEY"].strip(), source="env")
    if env.get("AKOOL_CLIENT_ID") and env.get("AKOOL_CLIENT_SECRET"):
        return Credentials(client_id=env["AKOOL_CLIENT_ID"].strip(),
                           client_secret=env["AKOOL_CLIENT_SECRET"].strip(), source="env")
    return None
