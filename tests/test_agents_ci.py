"""Agents and CI: `akool mcp` driven by the MCP SDK's own client, and the GitHub Action's steps run
the way a runner runs them (its env files), both against the sandbox."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, process_env

URL = "https://example.com/cat.png"
# Only the MCP tests need the mcp extra; the Action's tests (budgets included) run without it.
needs_mcp = pytest.mark.skipif(importlib.util.find_spec("mcp") is None,
                               reason="the mcp extra is not installed (pip install -e '.[mcp]')")


def _sandbox_home(tmp_path: Path, sandbox) -> Path:
    home = tmp_path / "home"
    config = home / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(f"[profiles.sandbox]\nsandbox_port = {sandbox.server.server_address[1]}\n"
                                        "poll_interval = 0.05\npoll_max_interval = 0.1\n")
    return home


def _text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@needs_mcp
def test_an_agent_plans_then_pays_once_then_waits_and_downloads(tmp_path, sandbox):
    import anyio
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    home = _sandbox_home(tmp_path, sandbox)
    allowed = tmp_path / "videos"
    allowed.mkdir()
    env = process_env(home)
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "akool_cli", "--sandbox", "mcp", "--allow-dir", str(allowed)], env=env)

    async def session() -> dict:
        seen: dict = {}
        async with stdio_client(params, errlog=open(tmp_path / "server.log", "w")) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                tools = {t.name: t for t in (await client.list_tools()).tools}
                seen["tools"] = tools
                plan = await client.call_tool("plan_video", {"image": URL, "effect": "squish"})
                seen["plan"] = json.loads(_text(plan))
                seen["creates_after_plan"] = sandbox.count("create")
                first = await client.call_tool("execute_plan", {"plan_id": seen["plan"]["plan_id"]})
                seen["first"] = json.loads(_text(first))
                again = await client.call_tool("execute_plan", {"plan_id": seen["plan"]["plan_id"]})
                seen["again"] = (again.is_error, _text(again))
                unknown = await client.call_tool("execute_plan", {"plan_id": "plan_nope"})
                seen["unknown"] = (unknown.is_error, _text(unknown))
                ids = seen["first"]["job_ids"]
                progress: list = []

                async def on_progress(done: float, total: float | None, message: str | None) -> None:
                    progress.append((done, total, message))

                waited = await client.call_tool("wait_for_jobs", {"job_ids": ids, "timeout": 60},
                                                progress_callback=on_progress)
                seen["progress"] = progress
                seen["waited"] = json.loads(_text(waited))
                saved = await client.call_tool("download_video", {"job_id": ids[0], "path": "cat.mp4"})
                seen["saved"] = json.loads(_text(saved))
                outside = await client.call_tool("download_video", {"job_id": ids[0],
                                                                    "path": str(tmp_path / "x.mp4")})
                wrong = await client.call_tool("plan_video", {"image": URL, "effect": "squish",
                                                              "model": "AkoolImage2VideoFastV1"})
                seen["wrong"] = (wrong.is_error, _text(wrong))
                seen["outside"] = (outside.is_error, _text(outside))
                history = await client.call_tool("list_history", {})
                seen["history"] = json.loads(_text(history))
                cost = await client.call_tool("estimate_cost", {"model": "kling", "resolution": "720p", "length": 5,
                                                                "count": 2})
                seen["cost"] = json.loads(_text(cost))
                balance = await client.call_tool("get_balance", {})
                seen["balance"] = json.loads(_text(balance))
        return seen

    seen = anyio.run(session)
    tools = seen["tools"]
    assert set(tools) == {"list_effects", "list_models", "get_balance", "estimate_cost", "job_status", "list_history",
                          "plan_video", "plan_add_audio", "plan_delete", "execute_plan", "wait_for_jobs",
                          "download_video"}
    assert all(t.description and t.input_schema.get("type") == "object" for t in tools.values())
    assert "SPENDS CREDITS" in tools["execute_plan"].description
    # What an agent's host reads before calling: which tools spend, and what each parameter means.
    paying = tools["execute_plan"].annotations
    assert paying.destructive_hint is True and paying.idempotent_hint is False and paying.read_only_hint is False
    for name in ("list_effects", "list_models", "get_balance", "estimate_cost", "job_status", "list_history",
                 "plan_video", "plan_add_audio", "plan_delete", "wait_for_jobs"):
        assert tools[name].annotations.read_only_hint is True, name
    for name, spec in tools.items():
        for field, schema in spec.input_schema.get("properties", {}).items():
            assert schema.get("description"), (name, field)
    assert all("job_ids" in tools[n].input_schema["properties"] for n in ("job_status", "wait_for_jobs",
                                                                           "plan_delete"))
    assert tools["list_history"].input_schema["properties"]["status"]["anyOf"][0]["enum"] == [
        "queueing", "processing", "completed", "failed"]
    plan = seen["plan"]
    assert plan["estimate"]["credits_total"] == 20 and plan["spent"] == 0 and plan["requests"][0]["effect_code"]
    assert "sandbox" in plan["target"] and seen["creates_after_plan"] == 0
    assert len(seen["first"]["job_ids"]) == 1 and seen["first"]["charged"] == 20
    assert seen["again"][0] and "already executed" in seen["again"][1]
    assert seen["unknown"][0] and "unknown plan" in seen["unknown"][1]
    assert sandbox.count("create") == 1  # the second execute spent nothing
    assert seen["waited"]["jobs"][0]["status"] == 3
    assert seen["progress"] and seen["progress"][-1][:2] == (1, 1) and "final" in seen["progress"][-1][2]
    assert (allowed / "cat.mp4").read_bytes()[4:8] == b"ftyp" and seen["saved"]["path"] == str(allowed / "cat.mp4")
    assert seen["outside"][0] and "outside the allowed folder" in seen["outside"][1]
    # Errors are written for an agent: parameter names, not CLI flags.
    assert seen["wrong"][0] and "model cannot be combined with effect" in seen["wrong"][1]
    assert "--" not in seen["wrong"][1]
    assert not (tmp_path / "x.mp4").exists()
    assert seen["history"]["history"][0]["_id"] == seen["first"]["job_ids"][0]
    assert seen["cost"]["credits_total"] == 200 and seen["balance"]["credit"] > 0


@needs_mcp
def test_a_plan_expires_and_the_budget_is_rechecked(tmp_path, sandbox):
    import io

    from akool_cli.config import Paths
    from akool_cli.context import App, Runtime
    from akool_cli.mcp_server import PLAN_TTL_SECONDS, Agent

    home = _sandbox_home(tmp_path, sandbox)
    runtime = Runtime(env={}, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      paths=Paths(home / "config", home / "data", home / "cache"))
    now = [1000.0]
    agent = Agent(App(runtime, sandbox=True), [], clock=lambda: now[0])
    plan = agent.plan_video(URL, "squish", None, None, None, None, None, None, None, False)
    now[0] += PLAN_TTL_SECONDS + 1
    from akool_cli.core.errors import UsageError

    with pytest.raises(UsageError, match="expired"):
        agent.execute_plan(plan["plan_id"])
    (home / "config" / "config.toml").write_text((home / "config" / "config.toml").read_text() + "max_credits = 5\n")
    agent = Agent(App(runtime, sandbox=True), [], clock=lambda: now[0])
    plan = agent.plan_video(URL, "squish", None, None, None, None, None, None, None, False)
    from akool_cli.core.errors import OverBudgetError

    with pytest.raises(OverBudgetError):
        agent.execute_plan(plan["plan_id"])
    assert sandbox.count("create") == 0
    with pytest.raises(UsageError, match="without --allow-dir"):
        agent.download_video("a" * 24, "x.mp4")


# ---------------------------------------------------------------- the GitHub Action


def _run_action(tmp_path: Path, sandbox, inputs: dict[str, str]) -> tuple[dict[str, str], str, list[int]]:
    """Run action.yml's steps as a runner does: inputs substituted, GITHUB_ENV carried to later steps."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    defaults = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values = {**defaults, **inputs}
    home = _sandbox_home(tmp_path, sandbox)
    files = {name: tmp_path / name for name in ("output", "summary", "env")}
    for path in files.values():
        path.write_text("")
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    env = process_env(home, GITHUB_OUTPUT=str(files["output"]), GITHUB_STEP_SUMMARY=str(files["summary"]),
                      GITHUB_ENV=str(files["env"]), GITHUB_ACTION_PATH=str(ROOT), RUNNER_TEMP=str(tmp_path),
                      # The install step builds a venv from this checkout; the suite's own interpreter
                      # already has it, so the step takes that one (AKOOL_ACTION_PYTHON).
                      AKOOL_ACTION_PYTHON=sys.executable)
    codes = []
    for step in action["runs"]["steps"]:
        step_env = dict(env)
        for line in files["env"].read_text().splitlines():
            key, _, value = line.partition("=")
            step_env[key] = value
        for key, value in (step.get("env") or {}).items():
            step_env[key] = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], str(value))
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=step_env, cwd=workspace,
                              capture_output=True, text=True, timeout=180)
        codes.append(done.returncode)
        assert "Traceback" not in done.stderr, done.stderr
        if done.returncode:
            break
    outputs: dict[str, str] = {}
    text = files["output"].read_text()
    for match in re.finditer(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", text, flags=re.S | re.M):
        outputs[match.group(1)] = match.group(3)
    for line in text.splitlines():
        if "=" in line and "<<" not in line:
            key, _, value = line.partition("=")
            outputs.setdefault(key, value)
    return outputs, files["summary"].read_text(), codes


def test_the_action_makes_videos_on_the_sandbox_with_outputs_and_a_summary(tmp_path, sandbox):
    outputs, summary, codes = _run_action(tmp_path, sandbox, {
        "images": f"{URL}\n{URL}?2", "effect": "squish", "sandbox": "true", "output-dir": "videos"})
    assert codes == [0, 0]
    ids = outputs["job-ids"].split()
    assert len(ids) == 2 and outputs["credits-charged"] == "40"
    paths = outputs["paths"].splitlines()
    assert len(paths) == 2 and all((tmp_path / "workspace" / p).read_bytes()[4:8] == b"ftyp" for p in paths)
    assert "| image | effect / model | credits | file |" in summary and "Squish" in summary and "sandbox" in summary


def test_the_action_writes_a_gallery_and_names_source_files_not_upload_links(tmp_path, sandbox):
    import shutil

    from conftest import PNG

    (tmp_path / "workspace").mkdir()
    shutil.copy(PNG, tmp_path / "workspace" / "holiday-photo.png")
    outputs, summary, codes = _run_action(tmp_path, sandbox, {
        "images": f"holiday-photo.png\n{URL}", "effect": "squish", "sandbox": "true", "output-dir": "videos"})
    assert codes == [0, 0]
    assert "holiday&#45;photo&#46;png" in summary and "_sandbox/files" not in summary
    assert outputs["gallery"] == "videos/gallery.html"
    page = (tmp_path / "workspace" / "videos" / "gallery.html").read_text()
    assert page.count('<article class="card"') == 2 and "gallery&#46;html" in summary
    manifest = tmp_path / "m2" / "m.csv"
    manifest.parent.mkdir()
    manifest.write_text(f"image,key\n{URL},one\n")
    outputs, _, codes = _run_action(tmp_path / "m2", sandbox, {"manifest": str(manifest), "sandbox": "true"})
    assert codes == [0, 0] and outputs["gallery"].endswith("gallery.html")


def test_the_action_runs_shards_whose_exports_merge(tmp_path, sandbox):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?{i},k{i}\n" for i in range(6)))
    exports = []
    for k in (1, 2):
        runner = tmp_path / f"runner{k}"
        runner.mkdir()
        outputs, _, codes = _run_action(runner, sandbox, {"manifest": str(manifest), "sandbox": "true",
                                                          "shard": str(k), "shards": "2", "concurrency": "2"})
        assert codes == [0, 0] and outputs["export"].endswith(f"run-{k}-of-2.akool")
        exports.append(runner / "workspace" / outputs["export"])
    home = _sandbox_home(tmp_path / "merger", sandbox)
    merged = subprocess.run([sys.executable, "-m", "akool_cli", "--sandbox", "batch", "merge", *map(str, exports),
                             "--json"], env=process_env(home), capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    assert json.loads(merged.stdout)["rows"] == 6


def test_the_action_runs_a_manifest_and_stops_at_the_budget(tmp_path, sandbox):
    manifest = tmp_path / "workspace-manifest.csv"
    manifest.write_text(f"image,key\n{URL},one\n{URL}?2,two\n")
    outputs, summary, codes = _run_action(tmp_path, sandbox, {"manifest": str(manifest), "sandbox": "true"})
    assert codes == [0, 0] and len(outputs["job-ids"].split()) == 2 and outputs["run-id"]
    assert "batch resume" in summary
    over = tmp_path / "over"
    over.mkdir()
    outputs, _, codes = _run_action(over, sandbox, {"images": URL, "sandbox": "true", "max-credits": "5"})
    assert codes[-1] == 12 and outputs.get("job-ids", "") == ""


def test_readme_installs_from_the_repository_not_an_index():
    readme = (ROOT / "README.md").read_text()
    assert "pipx install akool-cli" not in readme and "pip install akool-cli" not in readme
    assert "uses: OWNER/akool-cli@v1" in readme or "uses: ./" in readme
    hints = subprocess.run(["grep", "-rn", "install akool-cli", str(ROOT / "akool_cli")], capture_output=True, text=True)
    assert hints.stdout == ""


def test_no_image_word_becomes_an_option_of_the_action(tmp_path, sandbox):
    outputs, _, codes = _run_action(tmp_path, sandbox, {
        "images": f"{URL} --webhook=https://evil.example/hook --max-credits=100000", "sandbox": "true"})
    assert codes[-1] == 2  # the option-looking words are images, and refused as such: nothing was sent
    assert sandbox.count("create") == 0 and outputs.get("job-ids", "") == ""


def test_the_action_summary_escapes_what_the_server_sends(tmp_path, sandbox):
    sys.path.insert(0, str(ROOT / "action"))
    try:
        from run import _cell
    finally:
        sys.path.pop(0)
    hostile = "Squish\r| evil | ![x](https://evil.example/p.png) <img src=x> [a](javascript:1)\u202e\n# head"
    cell = _cell(hostile)
    assert "\r" not in cell and "\n" not in cell and "\u202e" not in cell
    for raw in ("|", "![", "](", "<img", "[a]", "# "):
        assert raw not in cell, raw
    assert "Squish" in cell and "evil" in cell  # still readable


def _agent(tmp_path: Path, sandbox, **settings: object):
    import io

    from akool_cli.config import Paths
    from akool_cli.context import App, Runtime
    from akool_cli.mcp_server import Agent

    home = _sandbox_home(tmp_path, sandbox)
    config = home / "config" / "config.toml"
    config.write_text(config.read_text() + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    runtime = Runtime(env={}, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      paths=Paths(home / "config", home / "data", home / "cache"))
    return Agent(App(runtime, sandbox=True), [])


@needs_mcp
def test_one_plan_holds_several_images_and_pays_for_each_once(tmp_path, sandbox):
    agent = _agent(tmp_path, sandbox)
    images = [f"{URL}?{n}" for n in range(3)]
    plan = agent.plan_video(None, "squish", None, None, None, None, None, None, None, False, images=images)
    assert [r["image_url"] for r in plan["requests"]] == images
    assert plan["estimate"]["credits_total"] == 60 and sandbox.count("create") == 0
    done = agent.execute_plan(plan["plan_id"])
    assert len(done["job_ids"]) == 3 and done["charged"] == 60 and sandbox.count("create") == 3
    with pytest.raises(Exception, match="already executed"):
        agent.execute_plan(plan["plan_id"])
    assert sandbox.count("create") == 3
    from akool_cli.core.errors import UsageError

    with pytest.raises(UsageError, match="no image"):
        agent.plan_video(None, "squish", None, None, None, None, None, None, None, False)


@needs_mcp
def test_a_session_budget_covers_every_image_of_a_plan(tmp_path, sandbox):
    from akool_cli.core.errors import OverBudgetError

    agent = _agent(tmp_path, sandbox, max_credits=50)
    plan = agent.plan_video(None, "squish", None, None, None, None, None, None, None, False,
                            images=[f"{URL}?{n}" for n in range(3)])
    with pytest.raises(OverBudgetError):
        agent.execute_plan(plan["plan_id"])  # 60 credits at most > 50
    assert sandbox.count("create") == 0


@needs_mcp
def test_add_audio_and_delete_are_planned_then_executed(tmp_path, sandbox):
    agent = _agent(tmp_path, sandbox)
    made = agent.execute_plan(agent.plan_video(URL, "squish", None, None, None, None, None, None, None,
                                               False)["plan_id"])
    agent.wait_for_jobs(made["job_ids"], 60)
    video = made["job_ids"][0]
    audio = agent.plan_add_audio(video, None, True)
    assert audio["estimate"]["credits_total"] == 5 and audio["requests"][0]["pre_video_id"] == video
    assert sandbox.count("add_audio") == 0  # planning spends nothing
    added = agent.execute_plan(audio["plan_id"])
    assert sandbox.count("add_audio") == 1 and len(added["job_ids"]) == 1
    assert agent.state.history().get(added["job_ids"][0]).kind == "add-audio"
    with pytest.raises(Exception, match="already executed"):
        agent.execute_plan(audio["plan_id"])
    assert sandbox.count("add_audio") == 1

    planned = agent.plan_delete([video, "0" * 24])
    assert [j["_id"] for j in planned["delete"]] == [video, "0" * 24] and sandbox.count("delete") == 0
    deleted = agent.execute_plan(planned["plan_id"])
    assert deleted["deleted"] == [video] and deleted["refused"][0]["_id"] == "0" * 24
    assert agent.state.history().get(video).deleted
    with pytest.raises(Exception, match="already executed"):
        agent.execute_plan(planned["plan_id"])
    assert sandbox.count("delete") == 1


@needs_mcp
def test_the_schemas_offer_the_effect_and_model_names_this_machine_has_listed(tmp_path, sandbox):
    from akool_cli.mcp_server import build_server

    agent = _agent(tmp_path, sandbox)
    assert agent.known_values() == {"effect": [], "model": []}  # nothing listed yet: nothing is fetched
    agent.list_effects(), agent.list_models()
    known = agent.known_values()
    assert "squish_89244231312" in known["effect"] and "Squish" in known["effect"] and known["model"]
    server = build_server(agent)
    import anyio

    tools = {t.name: t for t in anyio.run(server.list_tools)}
    props = tools["plan_video"].input_schema["properties"]
    assert "Squish" in props["effect"]["enum"] and None in props["effect"]["enum"]
    assert set(known["model"]) <= set(props["model"]["enum"])
    # Advice, not a wall: a case-insensitive name still plans.
    assert agent.plan_video(URL, "squish", None, None, None, None, None, None, None, False)["plan_id"]
