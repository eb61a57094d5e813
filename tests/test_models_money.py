"""The real API surface: models, variants, last frame, balance, budgets, and estimates that match the bill.

The contract half validates the sandbox's raw answers against the OpenAPI description built from
Akool's own documentation (tests/contract/akool-openapi.yaml, a copy of shared/reference's), over raw
HTTP and without akool_cli's client, so client and sandbox cannot agree on a mistake.
"""

from __future__ import annotations

import json

import httpx
import pytest
import yaml
from conftest import PNG, ROOT
from openapi_schema_validator import OAS30Validator

from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

URL = "https://example.com/cat.png"
END = "https://example.com/end.png"
SPEC_FILE = ROOT / "tests" / "contract" / "akool-openapi.yaml"


def _history(online) -> list[dict]:
    return online("history", "--json", "--limit", "1000").json()


# ---------------------------------------------------------------- models


def test_models_lists_every_model_with_its_options(online, sandbox):
    table = online("models")
    assert table.exit_code == 0
    for word in ("AkoolImage2VideoFastV1", "kling-v2-1", "768p", "720p:20", "6s", "x1.5"):
        assert word in table.stdout
    listed = online("models", "--json").json()
    assert {m["value"] for m in listed} >= {"AkoolImage2VideoProV1", "AkoolImage2VideoFree"}
    assert sandbox.count("models") == 1  # the second listing came from the cache
    online("models", "--refresh")
    assert sandbox.count("models") == 2


def test_three_variants_with_an_end_frame_and_the_balance_before_and_after(online, sandbox, tmp_path):
    online.configure("sandbox", sandbox_port=sandbox.server.server_address[1], poll_interval=0.05)
    before = online("--sandbox", "balance", "--json").json()["credit"]
    out = tmp_path / "variants"
    result = online("--sandbox", "create", str(PNG), "--model", "akool pro", "--count", "3", "--last-frame", str(PNG),
                    "-r", "1080p", "-l", "5", "--generate-audio", "--yes", "-o", f"{out}/", "--json")
    assert result.exit_code == 0, result.stderr
    jobs = result.json()
    assert len(jobs) == 3 and all(j["status"] == 3 and j["model_name"] == "AkoolImage2VideoProV1" for j in jobs)
    assert len(list(out.glob("*.mp4"))) == 3
    probe, body = sandbox.bodies("create_batch")  # one variant first (the price was never charged), then two
    assert probe["count"] == 1 and body["count"] == 2 and probe["last_image_url"] == body["last_image_url"]
    assert body["model_name"] == "AkoolImage2VideoProV1" and body["generate_audio"] is True
    assert body["last_image_url"].startswith(sandbox.url + "/_sandbox/files/")  # the local end frame was uploaded
    per_video = 8 * 5 * 1.5  # unit_credit (credits/s) x seconds x the audio multiplier
    after = online("--sandbox", "balance", "--json").json()["credit"]
    assert before - after == 3 * per_video
    entries = _history(online)
    assert len(entries) == 3 and all(e["estimate"] == per_video == e["deduction_credit"] for e in entries)


@pytest.mark.parametrize("args,needle", [
    (["--model", "Akool Basic", "-r", "768p"], "offers resolutions 720p, 1080p, 4k"),
    (["--model", "hailuo", "-l", "5", "-r", "768p"], "6, 10 s"),
    (["--model", "kling", "--count", "3"], "1 to 2 variants"),
    (["--model", "Akool Basic", "--last-frame", END], "does not take a last frame"),
    (["--model", "kling", "--generate-audio"], "cannot generate audio"),
    (["--model", "klin2"], "no model named"),
    (["--model", "akool"], "ambiguous"),
    (["--count", "2"], "needs --model"),
    (["--model", "kling", "--effect", "squish"], "cannot be combined"),
    (["-r", "768p"], "other values need --model"),
])
def test_model_requests_are_checked_before_anything_is_sent(online, sandbox, args, needle):
    result = online("create", URL, *args, "--yes")
    assert result.exit_code == 2 and needle in result.stderr, result.stderr
    assert sandbox.count("create_batch") == 0 and sandbox.count("create") == 0


def test_a_model_s_own_resolutions_and_lengths_are_accepted(online, sandbox):
    result = online("create", URL, "--model", "seedance", "-r", "768p", "-l", "6", "--count", "2", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    # The price was never charged to this profile: one variant goes first (the probe), then the other.
    assert [(b["resolution"], b["count"]) for b in sandbox.bodies("create_batch")] == [("768p", 1), ("768p", 1)]
    assert {e["deduction_credit"] for e in _history(online)} == {30}  # 5 credits/s x 6 s


def test_a_partial_batch_records_what_was_made_and_exits_7(online, sandbox):
    sandbox.fault("create_batch:partial:times=2")  # the probe (one variant), then the other two: one fails
    result = online("create", URL, "--model", "akool pro", "--count", "3", "--yes")
    assert result.exit_code == 7, result.stderr
    assert "variant 2" in result.stderr and "try again later" in result.stderr
    assert len(_history(online)) == 2


# ---------------------------------------------------------------- budgets, balance, the bill


def test_over_max_credits_stops_before_spending(online, sandbox):
    result = online("create", URL, URL + "?2", "--yes", "--max-credits", "39")
    # Two single creates: 20 each by the table, up to 100 each as users report being charged.
    assert result.exit_code == 12 and "up to 200 credits" in result.stderr and "39" in result.stderr
    online.configure(base_url=sandbox.url, max_credits=10)
    assert online("create", URL, "--yes").exit_code == 12
    assert online("add-audio", "a" * 24, "--ai-audio", "--yes", "--max-credits", "1").exit_code in (11, 12, 2)
    assert sandbox.count("create") == 0 and sandbox.count("add_audio") == 0


def test_over_the_balance_stops_before_spending(sandbox_factory, tmp_path):
    from conftest import Cli

    box = sandbox_factory(balance=50)
    cli = Cli(tmp_path, env={"PATH": "/usr/bin:/bin", "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=box.url, poll_interval=0.05)
    result = cli("create", URL, "--model", "kling", "--yes")
    assert result.exit_code == 13 and "100 credits" in result.stderr and "has 50" in result.stderr
    assert box.count("create_batch") == 0


def test_the_first_job_costs_more_than_estimated_the_rest_wait(sandbox_factory, tmp_path):
    from conftest import Cli

    box = sandbox_factory(price_multiplier=6.0)  # above even the reported 5x
    cli = Cli(tmp_path, env={"PATH": "/usr/bin:/bin", "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=box.url, poll_interval=0.05)
    result = cli("create", URL, URL + "?2", URL + "?3", "--yes")
    assert result.exit_code == 14, result.stderr
    assert "cost 120 credits where 20-100 were estimated" in result.stderr
    assert box.count("create") == 1
    [entry] = cli("history", "--json").json()
    assert entry["_id"] in result.stderr and entry["deduction_credit"] == 120
    assert "akool status --wait " + entry["_id"] in result.stderr  # the free way on
    # The next estimate is what this account was really charged: both ends collapse to it.
    cost = cli("cost", "--json").json()
    assert cost["low_each"] == cost["high_each"] == 120 and cost["source"] == "your last 1 job(s)"
    again = cli("create", URL + "?2", URL + "?3", "--yes", "--json")
    assert again.exit_code == 0, again.stderr  # the estimate now matches the bill: nothing to stop
    asked = cli("create", URL + "?4", URL + "?5", "--yes", "--accept-price-change")
    assert asked.exit_code == 0 and box.count("create") == 5


def test_a_charge_that_differs_from_the_estimate_is_said(sandbox_factory, tmp_path):
    from conftest import Cli

    box = sandbox_factory(price_multiplier=1.5)
    cli = Cli(tmp_path, env={"PATH": "/usr/bin:/bin", "AKOOL_API_KEY": SANDBOX_API_KEY})
    cli.configure(base_url=box.url, poll_interval=0.05)
    result = cli("create", URL, "--yes")
    assert result.exit_code == 0 and "charged 30 credits a video where 20-100 were estimated" in result.stderr


def test_the_cost_panel_names_source_balance_and_target(online, sandbox):
    result = online("create", URL, "--model", "kling", stdin_tty=True, confirm=lambda q: False)
    assert result.exit_code == 10
    for needle in ("model list", "Balance", "100000 credits", "profile default at 127.0.0.1", "100 credits"):
        assert needle in result.stderr


def test_cost_history_separates_targets(online, sandbox, tmp_path):
    online("create", URL, "--yes")
    spent = online("cost", "--history", "--json").json()
    assert [(s["profile"], s["base_url"], s["charged"], s["estimated"]) for s in spent] == \
        [("default", sandbox.url, 20, 20)]


@pytest.mark.parametrize("code,exit_code,needle", [(1109, 3, "API key is invalid"), (1015, 4, "NOT sent again"),
                                                   (1010, 4, "another account")])
def test_codes_beyond_the_notes(online, sandbox, code, exit_code, needle):
    sandbox.fault(f"create:business:code={code}")
    result = online("create", URL, "--yes")
    assert result.exit_code == exit_code and needle in result.stderr


# ---------------------------------------------------------------- the contract: the sandbox against the spec


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text())


def _validate(spec: dict, path: str, method: str, answer: dict) -> None:
    pointer = "/".join(["#", "paths", path.replace("~", "~0").replace("/", "~1"), method, "responses", "200",
                        "content", "application~1json", "schema"])
    validator = OAS30Validator({"$ref": pointer, **spec})
    errors = sorted(validator.iter_errors(answer), key=lambda e: e.path)
    assert not errors, (path, [e.message for e in errors][:3], json.dumps(answer)[:300])


def test_the_spec_copy_is_the_reference(spec):
    reference = ROOT.parent / "shared" / "reference" / "akool-openapi.yaml"
    if not reference.exists():  # a clone without the shared folder beside it: say so, do not pass
        pytest.skip(f"the shared reference {reference} is not beside this clone; the copy was not compared")
    assert reference.read_text() == SPEC_FILE.read_text(), "refresh tests/contract/akool-openapi.yaml"


def test_every_sandbox_answer_validates_against_the_vendor_spec(spec, sandbox):
    base = "/api/open/v4/image2Video"
    with httpx.Client(base_url=sandbox.url, headers={"x-api-key": SANDBOX_API_KEY}) as http:
        def check(method: str, path: str, **kwargs) -> dict:
            answer = http.request(method.upper(), path, **kwargs).json()
            _validate(spec, path.split("?")[0], method, answer)
            return answer

        token = http.post("/api/open/v3/getToken", json={"clientId": SANDBOX_CLIENT_ID,
                                                         "clientSecret": SANDBOX_CLIENT_SECRET}).json()
        _validate(spec, "/api/open/v3/getToken", "post", token)
        check("get", f"{base}/effects")
        check("get", "/api/open/v4/aigModel/list", params={"types[]": 1501})
        check("get", "/api/open/v3/faceswap/quota/info")
        created = check("post", f"{base}/createBySourcePrompt", json={
            "image_url": URL, "prompt": "p", "negative_prompt": "", "resolution": "720p", "audio_type": 3,
            "video_length": 5})
        batch = check("post", f"{base}/createBySourcePrompt/batch", json={
            "image_url": URL, "prompt": "p", "model_name": "AkoolImage2VideoProV1", "resolution": "720p",
            "video_length": 5, "count": 2, "last_image_url": END, "generate_audio": True})
        ids = [created["data"]["_id"]] + [j["_id"] for j in batch["data"]["successList"]]
        import time

        deadline = time.time() + 10
        while True:
            results = check("post", f"{base}/resultsByIds", json={"_ids": ",".join(ids)})
            if all(r["status"] == 3 for r in results["data"]["result"]) or time.time() > deadline:
                break
            time.sleep(0.05)
        check("post", f"{base}/updateVideoAudio", json={"pre_video_id": ids[0], "audio_type": 1, "audio_url": ""})
        check("post", f"{base}/delbyids", json={"_ids": ids[1]})
        # failures are envelopes the spec knows too
        check("post", f"{base}/createBySourcePrompt/batch", json={"image_url": URL, "prompt": "p",
                                                                  "model_name": "nope", "resolution": "720p",
                                                                  "video_length": 5})
        check("get", "/api/open/v4/aigModel/list")
    assert sandbox.count("create_batch") == 2


def test_the_ai_audio_body_satisfies_the_spec_s_table(spec):
    from akool_cli.api.models import AddAudioRequest, AudioType

    body = AddAudioRequest("a" * 24, AudioType.AI).to_body()
    schema = spec["paths"]["/api/open/v4/image2Video/updateVideoAudio"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    errors = list(OAS30Validator({**schema, "components": spec["components"]}).iter_errors(body))
    assert not errors, [e.message for e in errors]
