"""The real API's shapes (#20): what other people's clients send, what public model lists look like,
and the CLI taking them. Sandbox answers are validated against the OpenAPI file."""

from __future__ import annotations

import csv
import io
import time

import httpx
import pytest
from test_models_money import _validate, spec  # noqa: F401 - the spec fixture and its validator

from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

URL = "https://example.com/cat.png"
BASE = "/api/open/v4/image2Video"


def _done(http: httpx.Client, ids: list[str], status: int = 3) -> list[dict]:
    deadline = time.time() + 10
    while True:
        result = http.post(f"{BASE}/resultsByIds", json={"_ids": ",".join(ids)}).json()["data"]["result"]
        if all(r["status"] == status for r in result) or time.time() > deadline:
            return result
        time.sleep(0.05)


# ---------------------------------------------------------------- the CLI on the sandbox

def test_add_audio_to_a_video_made_by_the_batch_endpoint(online, sandbox):
    made = online("create", URL, "--model", "AkoolImage2VideoFastV1", "--wait", "--yes", "--json").json()
    added = online("add-audio", made["_id"], "--audio", "https://example.com/a.mp3", "--yes", "--wait", "--json")
    assert added.exit_code == 0, added.stderr
    assert added.json()["pre_video_id"] == made["_id"] and added.json()["status"] == 3


@pytest.mark.parametrize("typed,sent", [("1280x720", "1280x720"), ("720X1280", "720x1280"), ("720p", "1280x720")])
def test_a_pixel_size_resolution_is_sent_in_the_model_s_spelling(online, sandbox, typed, sent):
    result = online("create", URL, "--model", "pixverse-v4", "-r", typed, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert sandbox.bodies("create_batch")[-1]["resolution"] == sent


def test_resolutions_match_without_regard_to_case(online, sandbox):
    result = online("create", URL, "--model", "doubao-seedance-1-0-lite-i2v-250428", "-r", "768p", "--yes")
    assert result.exit_code == 0, result.stderr
    assert sandbox.bodies("create_batch")[-1]["resolution"] == "768P"
    cost = online("cost", "--model", "doubao-seedance-1-0-lite-i2v-250428", "-r", "1366X768", "--json").json()
    assert cost["low_each"] == 25  # 5 credits a second x 5 s, the 768P option's price


def test_durations_offered_per_resolution_are_checked_before_anything_is_sent(online, sandbox):
    refused = online("create", URL, "--model", "vidu-q1", "-r", "1080p", "-l", "8", "--yes")
    assert refused.exit_code == 2 and "4 s at 1080p" in refused.stderr
    assert sandbox.count("create_batch") == 0
    assert online("create", URL, "--model", "vidu-q1", "-r", "720p", "-l", "8", "--yes").exit_code == 0


def test_a_boolean_generate_audio_counts_as_supported_at_no_extra_cost(online, sandbox):
    cost = online("cost", "--model", "alibaba/wan2.5-i2v-preview", "-r", "480p", "--generate-audio", "--json")
    assert cost.exit_code == 0, cost.stderr
    assert cost.json()["low_each"] == 20  # 4 credits a second x 5 s, multiplier 1.0
    made = online("create", URL, "--model", "alibaba/wan2.5-i2v-preview", "-r", "480p", "--generate-audio",
                  "--yes", "--json")
    assert made.exit_code == 0, made.stderr
    assert sandbox.bodies("create_batch")[-1]["generate_audio"] is True


def test_a_model_value_with_a_slash_works_in_history_templates_and_completion(online, sandbox, tmp_path,
                                                                             monkeypatch):
    out = tmp_path / "out"
    made = online("create", URL, "--model", "alibaba/wan2.5-i2v-preview", "-r", "480p", "--yes", "--json",
                  "-o", f"{out}/{{model}}-{{index}}.mp4")
    assert made.exit_code == 0, made.stderr
    saved = list(out.iterdir())
    assert len(saved) == 1 and "/" not in saved[0].name and saved[0].parent == out  # no folder made by the slash
    assert online("history", "--json").json()[0]["model"] == "alibaba/wan2.5-i2v-preview"
    from akool_cli.completion import complete_model

    assert online("models").exit_code == 0  # fills the cache completion reads
    monkeypatch.setenv("AKOOL_CACHE_DIR", str(online.paths.cache_dir))
    assert complete_model("alibaba/") == ["alibaba/wan2.5-i2v-preview"]


def test_a_failed_job_s_reason_shows_everywhere(online, sandbox, tmp_path):
    sandbox.fault("create:fail_job")
    failed = online("create", URL, "--yes", "--wait", "--json")
    assert failed.exit_code == 5
    assert "content moderation" in failed.stderr  # the error names why
    job_id = failed.json()["_id"]
    assert "content moderation" in failed.json()["failure_reason"]
    assert "content moderation" in online("status", job_id, "--json").json()[0]["failure_reason"]
    assert "content moderation" in online("status", job_id).stdout
    assert "content moderation" in online("history", "--json").json()[0]["failure_reason"]
    sandbox.fault("create:fail_job")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"image,key\n{URL}?b,b\n")
    online("batch", "run", str(manifest), "--yes")
    run = online("batch", "list", "--json").json()[0]["id"]
    report = list(csv.DictReader(io.StringIO(online("batch", "report", run).stdout)))
    assert "content moderation" in report[0]["error"]


def test_a_1109_answer_is_an_auth_error_with_advice(online, sandbox_factory):
    box = sandbox_factory(bad_key_code=1109)
    online.configure(base_url=box.url)
    result = online("effects", env={"AKOOL_API_KEY": "wrong-key"})
    assert result.exit_code == 3 and "API key is invalid" in result.stderr and "akool auth login" in result.stderr


def test_an_unknown_api_path_is_an_api_error_not_an_html_page(online, sandbox):
    from akool_cli.api.client import AkoolClient
    from akool_cli.api.credentials import Credentials
    from akool_cli.core.errors import ApiError

    client = AkoolClient(sandbox.url, Credentials(api_key=SANDBOX_API_KEY))
    with pytest.raises(ApiError) as caught:
        client._call("GET", "/api/open/v4/image2Video/nothingHere", None, idempotent=True)  # a path the API lacks
    assert caught.value.code == 1008


# ---------------------------------------------------------------- other clients' request shapes (contract)

def test_other_clients_request_shapes_get_answers_the_spec_allows(spec, sandbox):  # noqa: F811
    with httpx.Client(base_url=sandbox.url, headers={"x-api-key": SANDBOX_API_KEY}) as http:
        def check(method: str, path: str, expect: int = 1000, **kwargs) -> dict:
            answer = http.request(method.upper(), path, **kwargs).json()
            _validate(spec, path.split("?")[0], method, answer)
            assert answer["code"] == expect, answer
            return answer

        for query in ("types[]=1501", "types%5B%5D=1501", "types[0]=1501", "types%5B0%5D=1501", "types=1501"):
            models = check("get", f"/api/open/v4/aigModel/list?{query}")["data"]
            assert any("/" in m["value"] for m in models), query
        single = check("post", f"{BASE}/createBySourcePrompt", json={
            "image_url": URL, "prompt": "p", "negative_prompt": "", "resolution": "720p", "audio_type": 3,
            "video_length": 5, "webhookurl": ""})["data"]
        batch = check("post", f"{BASE}/createBySourcePrompt/batch", json={
            "image_url": URL, "prompt": "p", "model_name": "AkoolImage2VideoFastV1", "resolution": "720p",
            "video_length": 5, "count": 1, "webhookurl": "", "audio_type": "1"})["data"]["successList"][0]
        ids = [single["_id"], batch["_id"]]
        _done(http, ids)
        check("post", f"{BASE}/resultsByIds", json={"_ids": ",".join(ids)})
        for pre in ids:  # Akool's demo makes every video through /batch, then adds audio
            check("post", f"{BASE}/updateVideoAudio", json={"pre_video_id": pre, "audio_type": 2,
                                                             "audio_url": "https://example.com/a.mp3"})
        token = http.post("/api/open/v3/getToken", json={"clientId": SANDBOX_CLIENT_ID,
                                                         "clientSecret": SANDBOX_CLIENT_SECRET}).json()["token"]
        # Both headers: a non-empty Authorization wins, x-api-key is not looked at.
        check("get", f"{BASE}/effects", headers={"Authorization": f"Bearer {token}", "x-api-key": "wrong"})
        check("get", f"{BASE}/effects", 1101, headers={"Authorization": "Bearer expired", "x-api-key": SANDBOX_API_KEY})
        answer = http.get("/api/open/v4/image2Video/nothingHere")
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/json")
        assert answer.json()["code"] == 1008


def test_a_failed_job_carries_its_reason_in_the_spec_s_shape(spec, sandbox):  # noqa: F811
    sandbox.fault("create:fail_job")
    with httpx.Client(base_url=sandbox.url, headers={"x-api-key": SANDBOX_API_KEY}) as http:
        made = http.post(f"{BASE}/createBySourcePrompt", json={
            "image_url": URL, "prompt": "p", "negative_prompt": "", "resolution": "720p", "audio_type": 3,
            "video_length": 5}).json()["data"]
        failed = _done(http, [made["_id"]], status=4)[0]
        assert failed["failed_reason"] and failed["msg"] == failed["failed_reason"]
        _validate(spec, f"{BASE}/resultsByIds", "post", {"code": 1000, "msg": "OK", "data": {"result": [failed]}})
