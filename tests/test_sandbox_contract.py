"""The sandbox against the vendor's page, over raw HTTP: literal field names, types and example values.

Nothing here goes through akool_cli's client, so client and sandbox cannot share a mistake.
"""

from __future__ import annotations

import time

import httpx
import pytest

from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

BASE = "/api/open/v4/image2Video"
# The vendor page's example create body, verbatim but for the webhook.
EXAMPLE_BODY = {
    "image_url": "https://drz0f01yeq1cx.cloudfront.net/1753772478686-9524-b6e4169bb1b44d5d8361936b3f6eddb8.png",
    "prompt": "Animate this image with smooth camera movement and subtle object motion.",
    "negative_prompt": "blurry, distorted hands, missing fingers",
    "extend_prompt": True,
    "resolution": "4k",
    "audio_url": "https://drz0f01yeq1cx.cloudfront.net/1753772497950-9213-1749809724426audio.mp3",
    "audio_type": 2,
    "video_length": 10,
    "is_premium_model": True,
    "effect_code": "squish_89244231312",
    "webhookurl": "http://localhost:3000/demo",
}
CREATE_FIELDS = {"create_time": int, "uid": int, "team_id": str, "status": int, "webhookUrl": str,
                 "resolution": str, "file_name": str, "effect_name": str, "_id": str, "image_url": str,
                 "prompt": str, "negative_prompt": str, "extend_prompt": bool, "audio_type": int,
                 "audio_url": str, "deduction_credit": int, "effect_code": str}
RESULT_FIELDS = {"_id": str, "create_time": int, "uid": int, "team_id": str, "update_time": int,
                 "video_duration": float, "webhookUrl": str, "file_name": str, "effect_name": str,
                 "image_url": str, "prompt": str, "resolution": str, "audio_type": int, "audio_url": str,
                 "deduction_credit": int, "effect_code": str, "status": int, "only_add_audio": bool}


@pytest.fixture
def http(sandbox):
    with httpx.Client(base_url=sandbox.url, headers={"x-api-key": SANDBOX_API_KEY}) as client:
        yield client


def create(http, **changes):
    body = {**EXAMPLE_BODY, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    return http.post(f"{BASE}/createBySourcePrompt", json=body).json()


def wait_done(http, job_id, limit=5.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        result = http.post(f"{BASE}/resultsByIds", json={"_ids": job_id}).json()["data"]["result"][0]
        if result["status"] in (3, 4):
            return result
        time.sleep(0.03)
    raise AssertionError("job did not finish")


def test_create_answers_with_the_vendor_fields_and_example_values(http):
    answer = create(http)
    assert answer["code"] == 1000 and answer["msg"] == "OK"
    data = answer["data"]
    for name, kind in CREATE_FIELDS.items():
        assert isinstance(data[name], kind), name
    assert data["status"] == 1
    assert data["uid"] == 101400 and data["team_id"] == "6805fb69e92d9edc7ca0b409"
    assert data["deduction_credit"] == 60  # the example: 4k, 10 s
    assert data["effect_name"] == "Squish"
    assert data["webhookUrl"] == "http://localhost:3000/demo"
    assert data["file_name"] == "Image2Video_Animate this image with .mp4"
    assert len(data["_id"]) == 24


@pytest.mark.parametrize("resolution,length,credits", [
    ("720p", 5, 20), ("1080p", 5, 25), ("4k", 5, 30), ("720p", 10, 40), ("1080p", 10, 50), ("4k", 10, 60)])
def test_deduction_follows_the_rate_table(http, resolution, length, credits):
    assert create(http, resolution=resolution, video_length=length)["data"]["deduction_credit"] == credits


def test_results_have_the_vendor_fields_and_a_playable_video(http):
    job_id = create(http)["data"]["_id"]
    result = wait_done(http, job_id)
    for name, kind in RESULT_FIELDS.items():
        assert isinstance(result[name], kind), name
    assert result["status"] == 3 and result["only_add_audio"] is False
    video = httpx.get(result["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"  # an ISO-BMFF (MP4) file


def test_results_takes_many_ids_in_one_request(http):
    ids = [create(http)["data"]["_id"] for _ in range(3)]
    answer = http.post(f"{BASE}/resultsByIds", json={"_ids": ",".join(ids)}).json()
    assert sorted(r["_id"] for r in answer["data"]["result"]) == sorted(ids)


@pytest.mark.parametrize("changes,needle", [
    ({"image_url": None}, "image_url"),
    ({"prompt": ""}, "prompt"),
    ({"negative_prompt": None}, "negative_prompt"),
    ({"resolution": "8k"}, "resolution"),
    ({"video_length": 7}, "video_length"),
    ({"video_length": "10"}, "video_length"),
    ({"audio_type": 4}, "audio_type"),
    ({"audio_type": True}, "audio_type"),
    ({"audio_url": None}, "audio_url"),
    ({"extend_prompt": "yes"}, "extend_prompt"),
    ({"effect_code": "nope_1"}, "effect_code"),
    ({"webhookurl": "ftp://x"}, "webhookurl"),
])
def test_create_rejects_bad_fields_with_1003_and_a_specific_msg(http, changes, needle):
    answer = create(http, **changes)
    assert answer["code"] == 1003
    assert needle in answer["msg"]


def test_auth_codes(sandbox):
    url = f"{sandbox.url}{BASE}/effects"
    assert httpx.get(url).json()["code"] == 1102
    assert httpx.get(url, headers={"x-api-key": "wrong"}).json()["code"] == 1101
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).json()["code"] == 1101


def test_get_token_then_bearer(sandbox):
    answer = httpx.post(f"{sandbox.url}/api/open/v3/getToken",
                        json={"clientId": SANDBOX_CLIENT_ID, "clientSecret": SANDBOX_CLIENT_SECRET}).json()
    assert answer["code"] == 1000 and isinstance(answer["token"], str)
    effects = httpx.get(f"{sandbox.url}{BASE}/effects", headers={"Authorization": f"Bearer {answer['token']}"})
    assert effects.json()["code"] == 1000
    bad = httpx.post(f"{sandbox.url}/api/open/v3/getToken", json={"clientId": "x", "clientSecret": "y"}).json()
    assert bad["code"] == 1101


def test_effects_list_matches_the_vendor_example(http):
    answer = http.get(f"{BASE}/effects").json()
    assert answer["msg"] == "Success"
    effects = answer["data"]["result"]
    assert answer["data"]["count"] == len(effects) >= 10
    squish = effects[0]
    assert squish == {
        "_id": "687632b95a0f52799eeed701", "create_time": 1752576694502,
        "logo": "https://static.website-files.org/assets/Image_to_Video/Lora/Squish.png", "name": "Squish",
        "video_url": "https://static.website-files.org/assets/Image_to_Video/Lora/Squish.mp4",
        "effect_code": "squish_89244231312"}
    codes = {e["name"]: e["effect_code"] for e in effects}
    assert codes["Cakeify"] == "cakeify_24743216" and codes["Samurai"] == "samurai_99757865"


def test_update_video_audio_makes_a_new_job(http):
    original = create(http, video_length=5)["data"]["_id"]
    wait_done(http, original)
    answer = http.post(f"{BASE}/updateVideoAudio", json={
        "pre_video_id": original, "audio_type": 2,
        "audio_url": "https://drz0f01yeq1cx.cloudfront.net/1753772497950-9213-1749809724426audio.mp3"}).json()
    data = answer["data"]
    assert answer["code"] == 1000
    assert data["pre_video_id"] == original and data["_id"] != original
    assert data["only_add_audio"] is True and data["deduction_credit"] == 5
    missing = http.post(f"{BASE}/updateVideoAudio", json={"pre_video_id": "0" * 24, "audio_type": 1,
                                                          "audio_url": ""}).json()
    assert missing["code"] == 1008
    # As strict as the vendor's table: audio_url is required, even for AI audio (an empty string will do).
    no_field = http.post(f"{BASE}/updateVideoAudio", json={"pre_video_id": original, "audio_type": 1}).json()
    assert no_field["code"] == 1003 and "audio_url" in no_field["msg"]
    no_url = http.post(f"{BASE}/updateVideoAudio", json={"pre_video_id": original, "audio_type": 2}).json()
    assert no_url["code"] == 1003 and "audio_url" in no_url["msg"]


def test_delete_reports_partial_success(http):
    done = create(http)["data"]["_id"]
    wait_done(http, done)
    running = create(http)["data"]["_id"]
    answer = http.post(f"{BASE}/delbyids", json={"_ids": f"{done},{running}"}).json()
    assert answer["msg"] == "Delete successfully"
    assert answer["data"]["successIds"] == [done]
    assert answer["data"]["noPermissionItems"] == [
        {"_id": running, "msg": "video resource is processing, please try again later"}]
    assert http.post(f"{BASE}/resultsByIds", json={"_ids": done}).json()["data"]["result"] == []


@pytest.mark.parametrize("ids", ["", "abc", "689174694b4dbdd4ab3d28c9,,x"])
def test_ids_format_is_checked(http, ids):
    assert http.post(f"{BASE}/resultsByIds", json={"_ids": ids}).json()["code"] == 1003


def test_basic_plan_refuses_pro_features(sandbox_factory):
    box = sandbox_factory(plan="basic")
    with httpx.Client(base_url=box.url, headers={"x-api-key": SANDBOX_API_KEY}) as client:
        assert create(client, video_length=10)["code"] == 1009
        assert create(client, video_length=5, is_premium_model=True)["code"] == 1009
        assert create(client, video_length=5, is_premium_model=False)["code"] == 1000


def test_failure_fault_makes_the_job_fail(http, sandbox):
    sandbox.fault("create:fail_job")
    job_id = create(http)["data"]["_id"]
    assert wait_done(http, job_id)["status"] == 4
    assert "video_url" not in wait_done(http, job_id)


@pytest.mark.parametrize("spec,status,body_start", [
    ("effects:503", 503, b"503"), ("effects:html", 502, b"<html>"), ("effects:empty", 200, b""),
    ("effects:truncated", 200, b'{"code": 1000'), ("effects:nocode", 200, b'{"msg"'),
])
def test_response_faults(http, sandbox, spec, status, body_start):
    sandbox.fault(spec)
    answer = http.get(f"{BASE}/effects")
    assert answer.status_code == status and answer.content.startswith(body_start)
    assert http.get(f"{BASE}/effects").json()["code"] == 1000  # a fault fires once by default


def test_retry_after_and_dropped_connections(http, sandbox):
    sandbox.fault("effects:429:retry_after=3")
    answer = http.get(f"{BASE}/effects")
    assert answer.status_code == 429 and answer.headers["retry-after"] == "3"
    sandbox.fault("effects:drop")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"{BASE}/effects")


def test_state_survives_a_restart_with_a_state_file(tmp_path, sandbox_factory):
    state = tmp_path / "state.json"
    first = sandbox_factory(state_file=state)
    with httpx.Client(base_url=first.url, headers={"x-api-key": SANDBOX_API_KEY}) as client:
        job_id = create(client)["data"]["_id"]
    first.server.stop()
    second = sandbox_factory(state_file=state)
    with httpx.Client(base_url=second.url, headers={"x-api-key": SANDBOX_API_KEY}) as client:
        assert wait_done(client, job_id)["_id"] == job_id
