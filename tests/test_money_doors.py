"""Every door that spends, against a sandbox that charges 5x its list prices.

What each test holds: the budget is never crossed by more than the first probe job's difference
(its charge minus its high estimate), the run stops with exit 14 naming what was charged and what was
estimated, and the message gives the free way to continue (the job id and a command that pays nothing).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli, process_env

from akool_cli.sandbox import SANDBOX_API_KEY

URL = "https://example.com/cat.png"
IDS = re.compile(r"\b[0-9a-f]{24}\b")


@pytest.fixture
def dear(sandbox_factory, tmp_path):
    """A sandbox charging five times its list prices on every endpoint, and a CLI pointed at it."""
    box = sandbox_factory(price_multiplier=5.0)
    cli = Cli(tmp_path, env={"PATH": os.environ["PATH"], "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=box.url, poll_interval=0.05, poll_max_interval=0.1)
    return box, cli


def charged(cli) -> int:
    return sum(e["deduction_credit"] or 0 for e in cli("history", "--json", "--limit", "1000").json())


def assert_stopped_with_the_way_on(result, *, charged_each: int, estimated: str, run: bool = False) -> None:
    """Exit 14, the price said, the job named, and the free way on: `status --wait ID`, or for a batch
    run the run's own follow (`batch status RUN --watch`)."""
    assert result.exit_code == 14, result.stderr
    assert f"cost {charged_each} credits where {estimated} were estimated" in result.stderr, result.stderr
    ids = IDS.findall(result.stderr)
    assert ids, result.stderr
    if run:
        assert re.search(r"are in the history; continue \(free\) with: akool batch status \S+ --watch",
                         result.stderr), result.stderr
    else:
        assert "continue (free) with: akool status --wait " + ids[0] in result.stderr


def test_create_of_many_images_sends_one_probe_and_stops(dear):
    box, cli = dear
    result = cli("create", URL, URL + "?2", URL + "?3", "--model", "AkoolImage2VideoFastV1", "--yes", "--max-credits", "250")
    assert_stopped_with_the_way_on(result, charged_each=100, estimated="20")
    assert box.count("create_batch") == 1 and charged(cli) == 100 <= 250
    assert "2 request(s) were not sent" in result.stderr


def test_accepting_the_new_price_still_stops_before_the_budget(dear):
    box, cli = dear
    result = cli("create", URL, URL + "?2", URL + "?3", "--model", "AkoolImage2VideoFastV1", "--yes", "--max-credits", "250",
                 "--accept-price-change")
    assert result.exit_code == 14, result.stderr
    assert "stopped before crossing the budget" in result.stderr and "of the budget of 250" in result.stderr
    assert box.count("create_batch") == 2 and charged(cli) == 200  # a third could cost 100 more: not sent


def test_count_sends_one_variant_first(dear):
    box, cli = dear
    result = cli("create", URL, "--model", "akool pro", "--count", "3", "--yes", "--max-credits", "200")
    assert_stopped_with_the_way_on(result, charged_each=150, estimated="30")
    assert [b["count"] for b in box.bodies("create_batch")] == [1]
    assert charged(cli) == 150


def test_the_single_endpoint_at_the_reported_price_is_within_the_range(sandbox_factory, tmp_path):
    """100 credits for 720p / 5 s is the reported charge: the high figure, so nothing is said to stop."""
    box = sandbox_factory(endpoint_multipliers={"create": 5.0})
    cli = Cli(tmp_path, env={"PATH": os.environ["PATH"], "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=box.url, poll_interval=0.05)
    refused = cli("create", URL, URL + "?2", "--yes", "--max-credits", "150")
    assert refused.exit_code == 12 and "up to 200 credits" in refused.stderr and box.count("create") == 0
    result = cli("create", URL, URL + "?2", "--yes", "--max-credits", "200")
    assert result.exit_code == 0, result.stderr
    assert "charged 100 credits a video where 20-100 were estimated" in result.stderr
    assert cli("cost", "--json").json()["high_each"] == 100  # collapsed to the bill
    # A 720p / 5 s add-audio is not the single create: its own multiplier (1x here) applies.


def test_add_audio_past_its_budget_exits_14(dear):
    box, cli = dear
    made = cli("create", URL, "--model", "AkoolImage2VideoFastV1", "--yes", "--wait", "--json")
    job_id = made.json()["_id"]
    result = cli("add-audio", job_id, "--ai-audio", "--yes", "--max-credits", "10")
    assert result.exit_code == 14, result.stderr
    assert "cost 25 credits where 5 were estimated" in result.stderr
    assert "the budget of 10 was crossed by 15" in result.stderr
    assert "continue (free) with: akool status --wait" in result.stderr
    assert box.count("add_audio") == 1


def _manifest(path: Path, n: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "model"])
        for i in range(n):
            writer.writerow([f"{URL}?{i}", "AkoolImage2VideoFastV1"])
    return path


def test_batch_run_stops_after_the_probe_and_resume_keeps_the_run_s_budget(dear, tmp_path):
    box, cli = dear
    manifest = _manifest(tmp_path / "m.csv", 5)
    result = cli("batch", "run", str(manifest), "--yes", "--max-credits", "150", "--no-wait")
    assert_stopped_with_the_way_on(result, charged_each=100, estimated="20", run=True)
    assert "batch resume" in result.stderr and "--accept-price-change" in result.stderr
    assert box.count("create_batch") == 1
    run_id = cli("batch", "list", "--json").json()[0]["id"]
    # resume holds the budget the run was started with: 100 spent, 4 rows at 100 each do not fit.
    again = cli("batch", "resume", run_id, "--yes", "--accept-price-change", "--no-wait")
    assert again.exit_code == 12 and "over the budget of 150" in again.stderr and box.count("create_batch") == 1


def test_batch_resume_probes_again_when_the_price_moves(dear, tmp_path):
    box, cli = dear
    manifest = _manifest(tmp_path / "m.csv", 5)
    first = cli("batch", "run", str(manifest), "--yes", "--max-credits", "1000", "--no-wait")
    assert first.exit_code == 14
    run_id = cli("batch", "list", "--json").json()[0]["id"]
    box.server.state.config.price_multiplier = 10.0  # the price rises again between the run and its resume
    again = cli("batch", "resume", run_id, "--yes", "--no-wait", "--concurrency", "4")
    assert_stopped_with_the_way_on(again, charged_each=200, estimated="100", run=True)
    assert box.count("create_batch") == 2 and charged(cli) == 300 <= 1000


def _agent(tmp_path: Path, box, **config: object):
    from akool_cli.config import Paths
    from akool_cli.context import App, Runtime
    from akool_cli.mcp_server import Agent

    home = tmp_path / "agent"
    (home / "config").mkdir(parents=True, exist_ok=True)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
    (home / "config" / "config.toml").write_text(f'[profiles.default]\nbase_url = "{box.url}"\n{extra}')
    runtime = Runtime(env={"AKOOL_API_KEY": SANDBOX_API_KEY}, stdin=io.StringIO(), stdout=io.StringIO(),
                      stderr=io.StringIO(), paths=Paths(home / "config", home / "data", home / "cache"))
    return Agent(App(runtime), [])


def _plan(agent, n: int = 1) -> dict:
    return agent.plan_video(f"{URL}?{n}", None, None, None, "AkoolImage2VideoFastV1", None, None, None, None, False)


def test_mcp_execute_past_the_session_budget_is_exit_14(dear, tmp_path):
    from akool_cli.core.errors import PriceChangedError

    box, _ = dear
    agent = _agent(tmp_path, box, max_credits=50)
    with pytest.raises(PriceChangedError, match="cost 100 credits where 20 were estimated|budget of 50 was crossed"):
        agent.execute_plan(_plan(agent)["plan_id"])
    assert agent.session_spent == 100 and box.count("create_batch") == 1


def test_a_loop_of_mcp_plans_is_bounded_by_the_session(sandbox_factory, tmp_path):
    from akool_cli.core.errors import OverBudgetError

    box = sandbox_factory()
    agent = _agent(tmp_path, box, max_credits=50)
    spent = 0
    for n in range(10):
        try:
            spent += agent.execute_plan(_plan(agent, n)["plan_id"])["charged"]
        except OverBudgetError as error:
            assert "after the 40 this session spent, over the budget of 50" in error.message
            break
    assert spent == 40 and box.count("create_batch") == 2 and agent.session_spent == 40


def test_a_loop_of_mcp_plans_at_5x_stops_after_the_probe(dear, tmp_path):
    from akool_cli.core.errors import AkoolError

    box, _ = dear
    agent = _agent(tmp_path, box, **{"mcp.session_credits": 50})
    refused = 0
    for n in range(10):
        try:
            agent.execute_plan(_plan(agent, n)["plan_id"])
        except AkoolError:
            refused += 1
    assert box.count("create_batch") == 1 and agent.session_spent == 100  # 50 + the probe's difference (80)
    assert refused == 10


# ---------------------------------------------------------------- caps shared by processes


def test_two_processes_never_cross_a_daily_cap_together(sandbox_factory, tmp_path):
    box = sandbox_factory(latency=0.15)
    home = tmp_path / "shared"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(
        f'[profiles.default]\nbase_url = "{box.url}"\n"budget.daily" = 100\n')
    env = process_env(home, AKOOL_API_KEY=SANDBOX_API_KEY)
    images = lambda tag: [f"{URL}?{tag}{i}" for i in range(4)]  # noqa: E731 - 4 x 20 = 80 each: both fit alone
    procs = [subprocess.Popen([sys.executable, "-m", "akool_cli", "create", *images(tag), "--model", "AkoolImage2VideoFastV1",
                               "--yes", "--concurrency", "2", "--quiet"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in "ab"]
    outs = [p.communicate(timeout=120) for p in procs]
    spent = sum(b["count"] for b in box.bodies("create_batch")) * 20
    assert spent <= 100, outs  # alone, each would have spent 80: 160 together
    refusals = [err for _, err in outs if "daily cap of 100" in err]
    assert refusals and "resets at" in refusals[0] and 12 in [p.returncode for p in procs]


def test_a_daily_cap_refuses_up_front_with_the_reset_time(online, sandbox):
    online.configure(base_url=sandbox.url, **{"budget.daily": 30})
    assert online("create", URL, "--model", "AkoolImage2VideoFastV1", "--yes").exit_code == 0
    result = online("create", URL + "?2", "--model", "AkoolImage2VideoFastV1", "--yes")
    assert result.exit_code == 12 and "daily cap of 30 credits: 20 spent" in result.stderr
    assert "resets at" in result.stderr and "UTC" in result.stderr and sandbox.count("create_batch") == 1


# ---------------------------------------------------------------- a disk that fills up


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs (root can mount one; elsewhere the test is skipped, visibly)."""
    mount = tmp_path / "data"  # the Cli's data folder: the history lives here
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # the disk is full
    finally:
        os.close(fd)


def test_no_room_for_the_planned_jobs_stops_before_paying(small_disk, sandbox, tmp_path):
    cli = Cli(tmp_path, env={"PATH": os.environ["PATH"], "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=sandbox.url, poll_interval=0.05)
    images = [f"{URL}?{i}" for i in range(200)]  # 200 jobs' rows do not fit in 512 KiB
    result = cli("create", *images, "--model", "AkoolImage2VideoFastV1", "--yes")
    assert result.exit_code == 2 and "cannot be used" in result.stderr, result.stderr
    assert sandbox.count("create_batch") == 0


def test_nothing_is_sent_after_the_first_job_the_history_cannot_take(small_disk, sandbox, tmp_path):
    import sqlite3

    data = small_disk
    cli = Cli(tmp_path, env={"PATH": os.environ["PATH"], "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=sandbox.url, poll_interval=0.05)
    assert cli("history").exit_code == 0

    def another_program_takes_the_disk(question: str) -> bool:
        # After the room was proven: give the file's free pages back to the disk, then fill it.
        db = sqlite3.connect(data / "history.sqlite3")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        _fill(small_disk / "filler")
        return True

    images = [f"{URL}?{i}" for i in range(5)]
    result = cli("create", *images, "--model", "AkoolImage2VideoFastV1", "--concurrency", "1", stdin_tty=True,
                 confirm=another_program_takes_the_disk)
    assert result.exit_code == 9, result.stderr
    assert sandbox.count("create_batch") == 1, result.stderr  # the first unrecordable job, and nothing after it
    [job_id] = set(IDS.findall(result.stderr))
    assert f"akool status --wait {job_id}" in result.stderr and "nothing more was sent" in result.stderr


def test_an_agent_reads_the_flows_warnings_in_the_tool_result(sandbox, tmp_path):
    # The flows report through events; MCP collects them per tool call (nothing goes to its stderr).
    from akool_cli.mcp_server import guard_tool

    agent = _agent(tmp_path, sandbox, poll_interval=0.05, poll_max_interval=0.05)
    unknown = "0" * 24
    jobs = guard_tool(agent, agent.wait_for_jobs)(ids=[unknown], timeout=5)
    assert jobs == [] and any(unknown in note and "not known" in note for note in agent.notes)
    assert agent.state.runtime.stderr.getvalue() == ""
    guard_tool(agent, agent.get_balance)()
    assert agent.notes == []  # each tool call starts with no warnings


def test_advice_to_an_agent_names_tools_or_asks_the_user(sandbox, tmp_path):
    from akool_cli.core.errors import ApiError
    from akool_cli.mcp_server import for_agent
    from akool_cli.output.hints import complete

    agent = _agent(tmp_path, sandbox)
    job = "0123456789abcdef01234567"
    assert "call wait_for_jobs" in agent.state.command("status", "--wait", job)
    assert agent.state.command("auth", "login") == "ask the user to run: akool auth login"
    error = complete(ApiError(1101, "token expired"), agent.state.command)
    assert "ask the user to run: akool auth login" in (error.hint or "")
    assert for_agent("pass --count 4 or fewer; pick one with -r (see: akool models)") == \
        "pass count 4 or fewer; pick one with resolution (see: list_models)"
