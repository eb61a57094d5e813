"""status, effects, cost, add-audio, delete, history, download; the output contract; docs freshness."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
from conftest import ROOT, Cli, FakeClock

from akool_cli.core.exit_codes import EXIT_CODE_MEANINGS, ExitCode
from akool_cli.docgen import outputs
from akool_cli.sandbox import SANDBOX_API_KEY

URL = "https://example.com/cat.png"
ANSI = re.compile(r"\x1b\[")


def make_job(online, *args: str, wait: bool = True) -> dict:
    result = online("create", URL, "--yes", "--json", *(["--wait"] if wait else []), *args)
    assert result.exit_code == 0, result.stderr
    return result.json()


# ---------------------------------------------------------------- status


def test_status_of_many_ids_is_one_request(online, sandbox):
    ids = [make_job(online, wait=False)["_id"] for _ in range(3)]
    before = sandbox.count("results")
    result = online("status", *ids, "--json")
    assert result.exit_code == 0
    assert sorted(job["_id"] for job in result.json()) == sorted(ids)
    assert sandbox.count("results") == before + 1


def test_status_without_ids_uses_the_history(online, sandbox):
    job = make_job(online, wait=False)
    result = online("status", "--json")
    assert [j["_id"] for j in result.json()] == [job["_id"]]


def test_status_table_has_the_columns(online, sandbox):
    job = make_job(online)
    table = online("status", job["_id"]).stdout
    for column in ("ID", "Status", "Effect", "Res", "Len", "Credits", "Age", "Expires in", "Video"):
        assert column in table
    assert job["_id"] in table and "completed" in table
    assert "6.9d" in table or "7.0d" in table  # time left before the files expire


def test_status_wait_and_download(online, sandbox, tmp_path):
    job = make_job(online, wait=False)
    result = online("status", job["_id"], "--wait", "-o", str(tmp_path), "--json")
    assert result.exit_code == 0
    assert (tmp_path / f"{job['_id']}.mp4").read_bytes()[4:8] == b"ftyp"
    assert result.json()[0]["local_path"] == str(tmp_path / f"{job['_id']}.mp4")


def test_status_updates_the_history(online, sandbox):
    job = make_job(online, wait=False)
    time.sleep(0.3)
    online("status", job["_id"])
    [entry] = online("history", "--json").json()
    assert entry["status_name"] == "completed" and entry["video_url"].endswith(".mp4")


def test_status_rejects_bad_ids_before_any_request(online, sandbox):
    result = online("status", "not-an-id")
    assert result.exit_code == 2 and sandbox.count("results") == 0


def test_status_unknown_id_warns(online, sandbox):
    result = online("status", "0" * 24)
    assert result.exit_code == 11 and "not found" in result.stderr
    assert result.stderr.count("000000000000000000000000 was not found") == 1  # one warning, not two


# ---------------------------------------------------------------- effects and cost


def test_effects_table_and_json(online, sandbox):
    table = online("effects")
    assert table.exit_code == 0 and "Squish" in table.stdout and "squish_89244231312" in table.stdout
    listed = online("effects", "--json").json()
    assert {"name": "Cakeify", "effect_code": "cakeify_24743216"}.items() <= \
        [e for e in listed if e["name"] == "Cakeify"][0].items()


def test_effects_refresh_bypasses_the_cache(online, sandbox):
    online("effects")
    online("effects")
    online("effects", "--refresh")
    assert sandbox.count("effects") == 2


def test_effects_cache_expires(online, sandbox):
    online.configure(base_url=sandbox.url, effects_cache_ttl=60)
    online("effects", clock=lambda: 1_000_000.0)
    online("effects", clock=lambda: 1_000_030.0)
    online("effects", clock=lambda: 1_000_100.0)
    assert sandbox.count("effects") == 2


@pytest.mark.parametrize("args,total", [([], 20), (["-r", "4k", "-l", "10"], 60), (["-r", "1080p", "-n", "3"], 75),
                                        (["--add-audio"], 5), (["--add-audio", "-l", "10", "-n", "2"], 20)])
def test_cost(cli, args, total):
    result = cli("cost", *args, "--json")
    assert result.exit_code == 0 and result.json()["credits_total"] == total
    assert str(total) in cli("cost", *args).stdout


def test_cost_history_sums_deducted_credits(online, sandbox):
    make_job(online, wait=False)
    make_job(online, "-r", "4k", wait=False)
    [spent] = online("cost", "--history", "--json").json()
    assert spent["charged"] == 50 and spent["jobs"] == 2 and spent["estimated"] == 50
    assert spent["profile"] == "default" and spent["base_url"] == sandbox.url


# ---------------------------------------------------------------- add-audio


def test_add_audio_records_the_new_job(online, sandbox, tmp_path):
    original = make_job(online, "-l", "10")
    result = online("add-audio", original["_id"], "--ai-audio", "--yes", "-o", str(tmp_path / "a.mp4"), "--json")
    assert result.exit_code == 0, result.stderr
    job = result.json()
    assert job["pre_video_id"] == original["_id"] and job["status"] == 3
    assert sandbox.bodies("add_audio") == [{"pre_video_id": original["_id"], "audio_type": 1, "audio_url": ""}]
    entry = [e for e in online("history", "--json").json() if e["_id"] == job["_id"]][0]
    assert entry["kind"] == "add-audio" and entry["estimate"] == 10 and entry["pre_video_id"] == original["_id"]


def test_add_audio_estimate_and_dry_run(online, sandbox):
    original = make_job(online)
    dry = online("add-audio", original["_id"], "--audio", "https://example.com/a.mp3", "--dry-run", "--json").json()
    assert dry["estimate"]["credits_total"] == 5
    assert dry["requests"] == [{"pre_video_id": original["_id"], "audio_type": 2,
                                "audio_url": "https://example.com/a.mp3"}]
    assert sandbox.count("add_audio") == 0


def test_add_audio_dry_run_for_people_prints_json(online, sandbox):
    original = make_job(online)
    result = online("add-audio", original["_id"], "--ai-audio", "--dry-run")
    # stdout is the request bodies alone (parseable JSON); the estimate is said on stderr
    assert json.loads(result.stdout) == [{"pre_video_id": original["_id"], "audio_type": 1, "audio_url": ""}]
    assert "Estimated cost: 5 credits (" in result.stderr


def test_add_audio_needs_exactly_one_source(online, sandbox):
    assert online("add-audio", "0" * 24, "--yes").exit_code == 2
    assert online("add-audio", "0" * 24, "--ai-audio", "--audio", "https://e.com/a.mp3", "--yes").exit_code == 2


def test_add_audio_confirms_without_tty(online, sandbox):
    original = make_job(online)
    result = online("add-audio", original["_id"], "--ai-audio")
    assert result.exit_code == 2 and "--yes" in result.stderr and sandbox.count("add_audio") == 0


# ---------------------------------------------------------------- delete


def test_delete_reports_each_id_and_refusals(sandbox_factory, tmp_path):
    # The sandbox's clock moves only when told: the "running" job cannot finish before the delete.
    clock = FakeClock()
    sandbox = sandbox_factory(clock=clock)
    online = Cli(tmp_path, env={"PATH": os.environ.get("PATH", ""), "AKOOL_API_KEY": SANDBOX_API_KEY})
    online.configure(base_url=sandbox.url, poll_interval=0.05)
    done = make_job(online, wait=False)["_id"]
    clock.advance(60)
    running = make_job(online, wait=False)["_id"]
    result = online("delete", done, running, "--yes", "--json")
    assert result.exit_code == 7
    assert result.json() == {"deleted": [done], "refused": [
        {"_id": running, "msg": "video resource is processing, please try again later"}]}
    assert sandbox.bodies("delete") == [{"_ids": f"{done},{running}"}]
    states = {e["_id"]: e["status_name"] for e in online("history", "--json").json()}
    assert states[done] == "deleted" and states[running] != "deleted"


def test_delete_people_output(online, sandbox):
    done = make_job(online)["_id"]
    result = online("delete", done, "--yes")
    assert result.exit_code == 0 and f"{done}  deleted" in result.stdout


def test_delete_confirms(online, sandbox):
    done = make_job(online)["_id"]
    assert online("delete", done).exit_code == 2
    assert online("delete", done, stdin_tty=True, confirm=lambda q: False).exit_code == 10
    assert sandbox.count("delete") == 0


# ---------------------------------------------------------------- history and download


def test_history_filters_and_prunes(online, sandbox):
    make_job(online)
    sandbox.fault("create:fail_job")
    online("create", URL, "--yes", "--wait")
    assert len(online("history", "--json").json()) == 2
    assert [e["status_name"] for e in online("history", "--status", "failed", "--json").json()] == ["failed"]
    assert len(online("history", "--limit", "1", "--json").json()) == 1
    assert online("history", "--status", "nope").exit_code == 2
    later = time.time() + 8 * 86400
    assert online("history", "--prune", "--json", clock=lambda: later).json() == {"pruned": 2}
    assert online("history", "--json").json() == []


def test_tables_print_brackets_literally(online, sandbox, tmp_path):
    job = make_job(online)
    folder = tmp_path / "[b]videos"
    folder.mkdir()
    assert online("download", job["_id"], "-o", str(folder)).exit_code == 0
    assert "[b]videos" in online("history").stdout


def test_history_table(online, sandbox):
    job = make_job(online)
    table = online("history").stdout
    assert job["_id"] in table and "Expires in" in table and "completed" in table
    assert "Profile" in table and " default " in table


def test_download_saves_and_records_the_file(online, sandbox, tmp_path):
    job = make_job(online)
    result = online("download", job["_id"], "-o", str(tmp_path), "--json")
    assert result.exit_code == 0
    path = tmp_path / f"{job['_id']}.mp4"
    assert result.json() == [{"_id": job["_id"], "path": str(path)}]
    assert path.read_bytes()[4:8] == b"ftyp"
    assert online("history", "--json").json()[0]["local_path"] == str(path.resolve())


def test_download_of_a_running_job_is_refused(online, sandbox_factory, tmp_path):
    slow = sandbox_factory(queue_seconds=30)
    online.configure(base_url=slow.url)
    job = make_job(online, wait=False)
    target = tmp_path / "videos"
    target.mkdir()
    result = online("download", job["_id"], "-o", str(target))
    assert result.exit_code == 2 and "queueing" in result.stderr and not list(target.iterdir())


def test_download_warns_near_expiry(online, sandbox, tmp_path):
    job = make_job(online)
    soon = job["create_time"] / 1000 + 7 * 86400 - 3600
    result = online("download", job["_id"], "-o", str(tmp_path), clock=lambda: soon)
    assert result.exit_code == 0 and "expire in 1 h" in result.stderr


# ---------------------------------------------------------------- the output contract


def test_every_command_has_json(online, sandbox, tmp_path):
    job = make_job(online)
    commands = [["status", job["_id"]], ["effects"], ["cost"], ["history"], ["config", "list"], ["config", "path"],
                ["auth", "status"], ["create", URL, "--dry-run"], ["download", job["_id"], "-o", str(tmp_path)],
                ["add-audio", job["_id"], "--ai-audio", "--dry-run"], ["delete", job["_id"], "--yes"]]
    for command in commands:
        result = online(*command, "--json")
        assert result.exit_code == 0, (command, result.stderr)
        json.loads(result.stdout)  # nothing but JSON on stdout


def test_no_escape_codes_without_a_terminal_or_with_no_color(online, sandbox):
    make_job(online)
    plain = online("history")
    assert not ANSI.search(plain.stdout + plain.stderr)
    colour = online("history", stdout_tty=True)
    assert ANSI.search(colour.stdout)
    no_color = online("history", stdout_tty=True, env={"NO_COLOR": "1"})
    assert not ANSI.search(no_color.stdout)


def test_exit_code_table_is_complete_and_distinct():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 129, 130, 143]
    assert set(EXIT_CODE_MEANINGS) == set(ExitCode)
    readme = (ROOT / "README.md").read_text()
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert f"| {int(code)} | {meaning} |" in readme


@pytest.mark.parametrize("setup,args,code", [
    (None, ["cost"], 0),
    (None, ["create", "missing.png", "--yes"], 2),
    ("logout", ["effects", "--refresh"], 3),
    ("business:1003", ["effects", "--refresh"], 4),
    ("fail_job", ["create", URL, "--yes", "--wait"], 5),
    ("slow_queue", ["create", URL, "--yes", "--wait", "--timeout", "1"], 6),
    ("running", ["delete"], 7),
    ("503", ["effects", "--refresh"], 8),
    ("create:503", ["create", URL, "--yes"], 9),
])
def test_each_exit_code(online, sandbox_factory, setup, args, code):
    box = sandbox_factory(queue_seconds=30) if setup in ("slow_queue", "running") else sandbox_factory()
    online.configure(base_url=box.url, poll_interval=0.05, retries=1)
    env = {}
    if setup == "logout":
        env = {"AKOOL_API_KEY": "sk-test-secret-0123456789abcdef"}
    elif setup == "business:1003":
        box.fault("effects:business:code=1003")
    elif setup == "fail_job":
        box.fault("create:fail_job")
    elif setup == "503":
        box.fault("effects:503:always")
    elif setup == "create:503":
        box.fault("create:503")
    elif setup == "running":
        args = ["delete", make_job(online, wait=False)["_id"], "--yes"]
    result = online(*args, env=env)
    assert result.exit_code == code, result.stderr
    if code:
        assert len(result.stderr.strip().splitlines()) >= 1 and "error:" in result.stderr


def test_unknown_flag_is_a_usage_error(cli):
    result = cli("create", "--no-such-flag")
    assert result.exit_code == 2


def test_version_and_help(cli):
    assert cli("--version").stdout.strip().startswith("akool-cli ")
    text = cli("--help").stdout
    for command in ("create", "status", "effects", "add-audio", "delete", "cost", "history", "download", "auth",
                    "config", "sandbox"):
        assert command in text


# ---------------------------------------------------------------- generated docs


def test_completions_and_man_page_are_fresh():
    stale = [str(path.relative_to(ROOT)) for path, text in outputs(ROOT).items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"regenerate with: python -m akool_cli.docgen  (stale: {stale})"


def test_man_page_covers_every_command_and_option():
    from typer.main import get_command

    from akool_cli.cli import app

    page = (ROOT / "man" / "akool.1").read_text()

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, path + [name])

    checked = 0
    for path, command in walk(get_command(app), []):
        if path:
            assert f"COMMAND: {' '.join(path).upper()}".replace("-", "\\-") in page, path
        for param in command.params:
            if param.param_type_name == "option":
                for opt in param.opts:
                    assert opt.replace("-", "\\-") in page, (path, opt)
                    checked += 1
    assert checked > 80


def test_effect_names_complete_from_the_cache(online, sandbox):
    from akool_cli.completion import cached_effect_names

    assert cached_effect_names(online.paths.cache_dir, "Sa") == []
    online("effects")
    assert cached_effect_names(online.paths.cache_dir, "Sa") == ["Sakura Bloom", "Samurai"]
    assert cached_effect_names(online.paths.cache_dir, "zzz") == []


def test_help_texts_survive_rich_markup():
    """Rich reads [square brackets] in help as markup and drops them: keep them out of help texts."""
    from typer.main import get_command

    from akool_cli.cli import app

    def walk(command):
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    texts = [p.help or "" for c in walk(get_command(app)) for p in c.params] + \
            [c.help or "" for c in walk(get_command(app))]
    assert not [t for t in texts if re.search(r"\[[a-z]", t)]


def test_cost_shows_the_range_and_its_sources(cli):
    text = cli("cost", "-n", "2").stdout
    assert "40-200 credits" in text and "vendor's rate table" in text and "users report" in text
    machine = cli("cost", "-n", "2", "--json").json()
    assert (machine["low"], machine["high"], machine["low_each"], machine["high_each"]) == (40, 200, 20, 100)


def test_sync_refreshes_jobs_that_finished_after_their_command_and_saves_them(online, sandbox_factory, tmp_path):
    clock = FakeClock()
    box = sandbox_factory(clock=clock)
    online.configure(base_url=box.url, poll_interval=0.05)
    # Made with --quiet (no wait): the history says queueing until something asks the service.
    made = online("create", URL, "--yes", "--quiet").stdout.strip()
    assert online("history", "--json").json()[0]["status"] == 1
    clock.advance(60)  # the job has finished on the service
    listed = online("sync", "--json")
    assert listed.exit_code == 0, listed.stderr  # not saved, but 7 days from expiring
    assert [j["_id"] for j in listed.json()] == [made]
    assert online("history", "--json").json()[0]["status"] == 3
    week = online("sync", "--expiring-within", "168")
    assert week.exit_code == 15 and "sync --save" in week.stderr
    saved = online("sync", "--save", "-o", str(tmp_path / "v") + "/", "--expiring-within", "168", "--json")
    assert saved.exit_code == 0, saved.stderr
    assert (tmp_path / "v" / f"{made}.mp4").exists()
    assert online("sync", "--expiring-within", "168").exit_code == 0


def test_download_unsaved_asks_the_service_first(online, sandbox_factory, tmp_path):
    clock = FakeClock()
    box = sandbox_factory(clock=clock)
    online.configure(base_url=box.url, poll_interval=0.05)
    made = online("create", URL, "--yes", "--quiet").stdout.strip()
    clock.advance(60)
    result = online("download", "--unsaved", "-o", str(tmp_path) + "/", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["_id"] for r in result.json()] == [made]
    empty = online("download", "--unsaved", "--json")
    assert empty.exit_code == 0 and empty.json() == []


def test_a_subcommand_s_help_loads_neither_rich_nor_markdown(tmp_path):
    # Typer's Rich help layout imports rich, markdown-it and pygments (about 3x `import typer`); the
    # help timing itself is in benchmarks/run.py (startup group).
    import subprocess
    import sys

    code = ("import sys, runpy; sys.argv = ['akool', 'create', '--help']\n"
            "try:\n    runpy.run_module('akool_cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'markdown_it', 'pygments')),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "AKOOL_CONFIG_DIR": str(tmp_path)})
    assert "Usage: akool create" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_status_of_many_ids_asks_in_requests_of_up_to_500(online, sandbox):
    ids = [f"{n:024x}" for n in range(1100)]
    before = sandbox.count("results")
    result = online("status", *ids, "--json")
    assert result.exit_code == 11  # none of them exists; each is named
    assert sandbox.count("results") == before + 3  # none listed: nothing asked again
    assert [len(body["_ids"].split(",")) for body in sandbox.bodies("results")[before:]] == [500, 500, 100]


def test_man_install_puts_the_page_where_man_finds_it_after_a_uv_or_pipx_install(cli, tmp_path):
    import shutil
    import subprocess

    home = tmp_path / "user"
    env = {"HOME": str(home), "PATH": f"{home}/.local/bin:/usr/bin:/bin"}
    result = cli("man", "--install", env=env)
    page = home / ".local" / "share" / "man" / "man1" / "akool.1"
    assert result.exit_code == 0 and str(page) in result.stderr, result.stderr
    assert page.read_text() == cli("man").stdout and oct(page.stat().st_mode & 0o777) == "0o644"
    if shutil.which("man") is None:
        pytest.skip("no man on this machine to ask where it looks")
    # uv and pipx put `akool` in ~/.local/bin; man-db searches ../share/man of each PATH folder.
    found = subprocess.run(["man", "-w", "akool"], env=env, capture_output=True, text=True)
    assert found.stdout.strip() == str(page) and "warning" not in result.stderr
    elsewhere = cli("man", "--install", "--dir", str(tmp_path / "odd"), env=env)
    assert elsewhere.exit_code == 0 and "does not search" in elsewhere.stderr and "MANPATH" in elsewhere.stderr


def test_the_wheel_carries_the_man_page_for_pip_and_pipx(tmp_path):
    """pip puts a wheel's share/man data in the prefix; pipx (1.4+) links it into ~/.local/share/man."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "akool_cli", "man"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    inside = [n for n in names if n.endswith(".data/data/share/man/man1/akool.1")]
    assert inside and zipfile.ZipFile(wheel).read(inside[0]).decode() == (ROOT / "man" / "akool.1").read_text()
