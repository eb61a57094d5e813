"""Credentials and config: login methods, 0600 files, masking, precedence, corrupt files."""

from __future__ import annotations

import os
import stat

import pytest

from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

SECRET = "sk-test-secret-0123456789abcdef"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def bare(cli, sandbox):
    """No credentials at all, pointed at the sandbox."""
    cli.configure(base_url=sandbox.url)
    return cli


def test_login_with_key_from_stdin_verifies_and_saves_0600(bare, sandbox):
    result = bare("auth", "login", "--with-key", stdin=SANDBOX_API_KEY + "\n")
    assert result.exit_code == 0, result.stderr
    assert "verified" in result.stderr and sandbox.count("quota") == 1 and "Balance: 100000 credits" in result.stderr
    assert mode(bare.paths.credentials_file) == 0o600
    assert SANDBOX_API_KEY in bare.paths.credentials_file.read_text()
    assert bare("effects", "--json").exit_code == 0  # the saved key is used
    assert sandbox.headers("effects")[-1]["x-api-key"] == SANDBOX_API_KEY


def test_login_prompts_with_hidden_input_on_a_tty(bare):
    prompts = []
    result = bare("auth", "login", stdin_tty=True, read_secret=lambda p: prompts.append(p) or SANDBOX_API_KEY)
    assert result.exit_code == 0 and prompts == ["Akool API key: "]


def test_login_without_tty_or_stdin_flag_fails_with_a_hint(bare):
    result = bare("auth", "login")
    assert result.exit_code == 2 and "--with-key" in result.stderr


def test_login_with_a_bad_key_is_an_auth_error_and_saves_nothing(bare):
    result = bare("auth", "login", "--with-key", stdin=SECRET)
    assert result.exit_code == 3
    assert "1101" in result.stderr
    assert not bare.paths.credentials_file.exists()


def test_no_verify_skips_the_call(bare, sandbox):
    result = bare("auth", "login", "--with-key", "--no-verify", stdin=SECRET)
    assert result.exit_code == 0 and sandbox.count("effects") == 0


def test_legacy_client_credentials_end_to_end(bare, sandbox):
    result = bare("auth", "login", "--client-id", SANDBOX_CLIENT_ID, "--with-key", stdin=SANDBOX_CLIENT_SECRET)
    assert result.exit_code == 0, result.stderr
    assert sandbox.count("token") == 1
    status = bare("auth", "status", "--json").json()
    assert status["method"] == "client-credentials" and status["source"] == "file"
    bare("effects", "--refresh", "--json")
    headers = sandbox.headers("effects")[-1]
    assert headers["authorization"].startswith("Bearer sbx.") and "x-api-key" not in headers
    # The minted token was cached: no second getToken.
    assert sandbox.count("token") == 1


def test_token_is_reminted_when_expired(bare, sandbox):
    bare("auth", "login", "--client-id", SANDBOX_CLIENT_ID, "--with-key", stdin=SANDBOX_CLIENT_SECRET)
    sandbox.expire_tokens()
    assert bare("effects", "--refresh", "--json").exit_code == 0
    assert sandbox.count("token") == 2


def test_status_masks_the_key(bare):
    bare("auth", "login", "--with-key", "--no-verify", stdin=SECRET)
    result = bare("auth", "status")
    assert result.exit_code == 0
    assert "****cdef" in result.stdout and SECRET not in result.stdout
    data = bare("auth", "status", "--json").json()
    assert data["key"] == "****cdef" and data["method"] == "api-key" and data["source"] == "file"


def test_env_key_wins_over_the_file(bare):
    bare("auth", "login", "--with-key", "--no-verify", stdin=SECRET)
    data = bare("auth", "status", "--json", env={"AKOOL_API_KEY": SANDBOX_API_KEY}).json()
    assert data["source"] == "env" and data["key"] == "****4byt"


def test_status_when_logged_out_exits_3(bare):
    result = bare("auth", "status", "--json")
    assert result.exit_code == 3 and result.json()["method"] is None


def test_logout(bare):
    bare("auth", "login", "--with-key", "--no-verify", stdin=SECRET)
    assert bare("auth", "logout").exit_code == 0
    assert bare("auth", "status").exit_code == 3


def test_profiles_keep_separate_credentials(bare):
    bare("--profile", "work", "auth", "login", "--with-key", "--no-verify", stdin=SECRET)
    assert bare("--profile", "work", "auth", "status").exit_code == 0
    assert bare("auth", "status").exit_code == 3
    assert bare("auth", "status", env={"AKOOL_PROFILE": "work"}).exit_code == 0


def test_loose_credential_file_is_retightened(bare):
    bare("auth", "login", "--with-key", "--no-verify", stdin=SECRET)
    os.chmod(bare.paths.credentials_file, 0o644)
    assert bare("auth", "status").exit_code == 0
    assert mode(bare.paths.credentials_file) == 0o600


def test_verbose_redacts_secrets(bare, sandbox):
    result = bare("--verbose", "effects", "--refresh", env={"AKOOL_API_KEY": SANDBOX_API_KEY})
    assert result.exit_code == 0
    assert "x-api-key: <redacted>" in result.stderr
    assert "GET " + sandbox.url in result.stderr and "-> 200" in result.stderr
    assert SANDBOX_API_KEY not in result.stderr + result.stdout


def test_config_set_get_unset_list(cli):
    assert cli("config", "set", "default_resolution", "1080p").exit_code == 0
    assert cli("config", "get", "default_resolution").stdout.strip() == "1080p"
    listing = {s["key"]: s for s in cli("config", "list", "--json").json()}
    assert (listing["default_resolution"]["value"], listing["default_resolution"]["source"]) == ("1080p", "profile")
    assert listing["poll_interval"]["source"] == "default"
    assert cli("config", "unset", "default_resolution").exit_code == 0
    assert cli("config", "get", "default_resolution").stdout.strip() == "720p"
    assert cli("config", "set", "upload.command", "echo {path}").exit_code == 0
    assert "[profiles.default.upload]" in cli.paths.config_file.read_text()


@pytest.mark.parametrize("key,value,needle", [("colour", "red", "valid keys"), ("default_length", "7", "5, 10"),
                                              ("timeout", "0", "from 0.1 to 3600"), ("poll_interval", "1e-300", "from 0.05"), ("base_url", "ftp://x", "http"),
                                              ("concurrency", "99", "1 to 16")])
def test_config_rejects_bad_keys_and_values(cli, key, value, needle):
    result = cli("config", "set", key, value)
    assert result.exit_code == 2 and needle in result.stderr
    assert not cli.paths.config_file.exists()


def test_precedence_flag_env_profile_default(cli, sandbox):
    cli.configure(base_url="https://profile.example.com")
    assert cli("config", "get", "base_url").stdout.strip() == "https://profile.example.com"
    env = {"AKOOL_BASE_URL": sandbox.url}
    got = cli("config", "get", "base_url", "--json", env=env).json()
    assert got == {"key": "base_url", "value": sandbox.url, "source": "env"}
    # Flags beat everything: a command's --resolution beats the profile's default_resolution.
    cli.configure(base_url=sandbox.url, default_resolution="4k")
    dry = cli("create", "https://e.com/a.png", "-r", "720p", "--dry-run", "--json").json()
    assert dry["requests"][0]["resolution"] == "720p"
    assert cli("create", "https://e.com/a.png", "--dry-run", "--json").json()["requests"][0]["resolution"] == "4k"


def test_config_path_lists_every_file(cli):
    paths = cli("config", "path", "--json").json()
    assert set(paths) == {"config", "credentials", "history", "cache"}


@pytest.mark.parametrize("content,needle", [("profiles = [", "not valid TOML"),
                                            ("[profiles.default]\ntimeout = 'soon'", "bad value for 'timeout'"),
                                            ("[profiles.default]\nshoe_size = 9", "unknown key 'shoe_size'"),
                                            ("profiles = 3", "table of tables")])
def test_corrupt_config_is_one_line_naming_the_file(cli, content, needle):
    cli.paths.config_dir.mkdir(parents=True)
    cli.paths.config_file.write_text(content)
    result = cli("cost", "--json")
    assert result.exit_code == 2
    assert needle in result.stderr and str(cli.paths.config_file) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_corrupt_credentials_name_the_file(cli):
    cli.paths.config_dir.mkdir(parents=True)
    cli.paths.credentials_file.write_text("[profiles.default]\napi_key = 12\n")
    os.chmod(cli.paths.credentials_file, 0o600)
    result = cli("auth", "status")
    assert result.exit_code == 2 and str(cli.paths.credentials_file) in result.stderr


def test_unreadable_config_path(cli):
    # Root reads any file whatever its mode, so unreadability is made with a directory in its place.
    cli.paths.config_file.mkdir(parents=True)
    result = cli("cost")
    assert result.exit_code == 2 and "is a directory" in result.stderr and str(cli.paths.config_file) in result.stderr


def test_bad_base_url_env_is_a_clear_error(cli):
    result = cli("effects", env={"AKOOL_BASE_URL": "localhost:8000"})
    assert result.exit_code == 2 and "AKOOL_BASE_URL" in result.stderr


def test_the_sandbox_port_is_one_for_every_profile(cli):
    """`--sandbox --profile work` finds the sandbox where `--sandbox` does: the port lives in profile sandbox."""
    assert cli("--sandbox", "config", "set", "sandbox_port", "9123").exit_code == 0
    assert cli("--profile", "work", "config", "get", "sandbox_port").stdout.strip() == "9123"
    result = cli("--profile", "work", "config", "set", "sandbox_port", "9124")
    assert result.exit_code == 0 and "profile 'sandbox'" in result.stderr
    assert cli("--sandbox", "config", "get", "sandbox_port").stdout.strip() == "9124"
    import tomllib

    profiles = tomllib.loads(cli.paths.config_file.read_text())["profiles"]
    assert profiles["sandbox"]["sandbox_port"] == 9124 and "sandbox_port" not in profiles.get("work", {})
    assert cli("--profile", "work", "config", "unset", "sandbox_port").exit_code == 0
    assert cli("--sandbox", "config", "get", "sandbox_port").stdout.strip() == "8765"


def test_sandbox_with_another_profile_talks_to_the_sandbox_port(cli, sandbox):
    port = sandbox.server.server_address[1]
    cli("--sandbox", "config", "set", "sandbox_port", str(port))
    result = cli("--sandbox", "--profile", "work", "balance", "--json")
    assert result.exit_code == 0, result.stderr
    assert sum(sandbox.stats()["requests"].values()) >= 1, "the request reached the configured sandbox port"
