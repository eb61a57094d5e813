"""akool create, end to end against the sandbox: bodies on the wire, estimates, confirmation, history."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import PNG

URL = "https://example.com/cat.png"


def test_headline_creates_waits_and_saves_a_playable_mp4(online, sandbox, tmp_path):
    out = tmp_path / "out.mp4"
    online.configure("sandbox", sandbox_port=sandbox.server.server_address[1], poll_interval=0.05)
    result = online("--sandbox", "create", str(PNG), "--effect", "squish", "--yes", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert data[4:8] == b"ftyp" and len(data) > 10000
    assert "completed" in result.stdout
    [body] = sandbox.bodies("create")
    assert body["effect_code"] == "squish_89244231312"
    assert body["image_url"].startswith(sandbox.url + "/_sandbox/files/")  # the sandbox took the upload
    assert not list(tmp_path.glob(".out.mp4.*"))  # no temporary file left behind


def test_two_images_are_polled_together(online, sandbox, tmp_path):
    result = online("create", URL, URL + "?2", "--yes", "-o", str(tmp_path / "videos"), "--json")
    assert result.exit_code == 0, result.stderr
    jobs = result.json()
    assert len(jobs) == 2 and all(job["status"] == 3 for job in jobs)
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == sorted(f"{j['_id']}.mp4" for j in jobs)
    polls = sandbox.bodies("results")
    assert polls and all(sorted(p["_ids"].split(",")) == sorted(j["_id"] for j in jobs) for p in polls[:1])
    assert all(len(p["_ids"].split(",")) <= 2 for p in polls)


@pytest.mark.parametrize("args,expected", [
    ([], {"resolution": "720p", "video_length": 5, "audio_type": 3}),
    (["--resolution", "4k", "--length", "10"], {"resolution": "4k", "video_length": 10}),
    (["--ai-audio"], {"audio_type": 1}),
    (["--audio", "https://example.com/a.mp3"], {"audio_type": 2, "audio_url": "https://example.com/a.mp3"}),
    (["--premium"], {"is_premium_model": True}),
    (["--extend-prompt"], {"extend_prompt": True}),
    (["--webhook", "https://hooks.example.com/x"], {"webhookurl": "https://hooks.example.com/x"}),
    (["--prompt", "zoom in slowly"], {"prompt": "zoom in slowly"}),
    (["--negative-prompt", ""], {"negative_prompt": ""}),
    (["--effect", "Samurai"], {"effect_code": "samurai_99757865"}),
])
def test_exact_request_body_for_each_option(online, sandbox, args, expected):
    result = online("create", URL, "--yes", *args)
    assert result.exit_code == 0, result.stderr
    [body] = sandbox.bodies("create")
    for key, value in expected.items():
        assert body[key] == value, key
    assert body["image_url"] == URL
    absent = {"audio_url", "is_premium_model", "extend_prompt", "effect_code", "webhookurl"} - set(expected)
    assert not absent & set(body)  # optional fields appear only when asked for


def test_defaults_come_from_config(online, sandbox):
    online.configure(base_url=sandbox.url, default_resolution="1080p", default_length=10,
                     negative_prompt="no blur")
    assert online("create", URL, "--yes").exit_code == 0
    [body] = sandbox.bodies("create")
    assert (body["resolution"], body["video_length"], body["negative_prompt"]) == ("1080p", 10, "no blur")


@pytest.mark.parametrize("query,code", [("squish", "squish_89244231312"), ("SQUISH", "squish_89244231312"),
                                        ("cakeify_24743216", "cakeify_24743216"), ("sam", "samurai_99757865"),
                                        ("zoom out", "zoom_out_90817263"), ("zoomout", "zoom_out_90817263")])
def test_effect_resolution(online, sandbox, query, code):
    result = online("create", URL, "--effect", query, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["requests"][0]["effect_code"] == code


def test_effect_typo_suggests_and_sends_nothing(online, sandbox):
    result = online("create", URL, "--effect", "sqush", "--yes")
    assert result.exit_code == 2
    assert "Did you mean Squish" in result.stderr
    assert sandbox.count("create") == 0


def test_ambiguous_effect_lists_the_candidates(online, sandbox):
    result = online("create", URL, "--effect", "sa", "--yes")
    assert result.exit_code == 2
    assert "Sakura Bloom" in result.stderr and "Samurai" in result.stderr


def test_effects_are_cached(online, sandbox):
    online("create", URL, "--effect", "squish", "--dry-run")
    online("create", URL, "--effect", "melt", "--dry-run")
    assert sandbox.count("effects") == 1


@pytest.mark.parametrize("resolution,length,each", [("720p", "5", 20), ("1080p", "5", 25), ("4k", "5", 30),
                                                    ("720p", "10", 40), ("1080p", "10", 50), ("4k", "10", 60)])
def test_estimate_in_dry_run_for_every_combination(online, sandbox, resolution, length, each):
    result = online("create", URL, URL, URL, "-r", resolution, "-l", length, "--dry-run", "--json")
    assert result.exit_code == 0
    estimate = result.json()["estimate"]
    assert estimate["credits_each"] == each and estimate["credits_total"] == 3 * each
    assert sandbox.count("create") == 0


def test_dry_run_sends_nothing_and_prints_the_bodies(online, sandbox):
    result = online("create", URL, "--effect", "squish", "--dry-run")
    assert result.exit_code == 0
    bodies = json.loads(result.stdout)  # stdout: the bodies alone; the estimate on stderr
    assert bodies[0]["effect_code"] == "squish_89244231312"
    assert "20-100 credits" in result.stderr
    assert sandbox.count("create") == 0 and sandbox.count("upload") == 0


def test_no_tty_without_yes_fails_with_a_hint_and_sends_nothing(online, sandbox):
    result = online("create", URL)
    assert result.exit_code == 2
    assert "--yes" in result.stderr and "20 credits" in result.stderr
    assert sandbox.count("create") == 0


def test_tty_confirmation_yes_and_no(online, sandbox):
    asked = []
    declined = online("create", URL, stdin_tty=True, confirm=lambda q: asked.append(q) or False)
    assert declined.exit_code == 10 and sandbox.count("create") == 0
    assert asked == ["Spend up to 100 credits?"]
    accepted = online("create", URL, stdin_tty=True, confirm=lambda q: True)
    assert accepted.exit_code == 0 and sandbox.count("create") == 1


def test_yes_never_asks(online, sandbox):
    result = online("create", URL, "--yes", stdin_tty=True, confirm=lambda q: pytest.fail("asked"))
    assert result.exit_code == 0


def test_history_is_written_before_polling(online, sandbox):
    sandbox.fault("results:503:always")
    result = online("create", URL, "--yes", "--wait")
    assert result.exit_code == 8
    assert "resume with: akool status --wait" in result.stderr
    rows = sqlite3.connect(online.paths.history_file).execute("SELECT id, estimate, video_length FROM jobs").fetchall()
    assert len(rows) == 1 and rows[0][1:] == (20, 5)
    assert sandbox.count("create") == 1


def test_refuses_to_overwrite_without_force(online, sandbox, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    result = online("create", URL, "--yes", "-o", str(out))
    assert result.exit_code == 2 and "--force" in result.stderr
    assert out.read_bytes() == b"precious" and sandbox.count("create") == 0
    forced = online("create", URL, "--yes", "-o", str(out), "--force")
    assert forced.exit_code == 0 and out.read_bytes()[4:8] == b"ftyp"


def test_json_output_is_the_job_object(online, sandbox):
    result = online("create", URL, "--yes", "--json")
    job = result.json()
    assert isinstance(job, dict) and len(job["_id"]) == 24 and job["status"] == 1
    assert job["deduction_credit"] == 20
    assert result.stderr == ""


def test_quiet_prints_only_ids(online, sandbox):
    result = online("create", URL, URL, "--yes", "-q")
    ids = result.stdout.split()
    assert len(ids) == 2 and all(len(i) == 24 for i in ids)


def test_failed_job_exits_5(online, sandbox):
    sandbox.fault("create:fail_job")
    result = online("create", URL, "--yes", "--wait", "--json")
    assert result.exit_code == 5 and result.json()["status"] == 4


def test_wait_timeout_exits_6_and_says_how_to_resume(online, sandbox_factory, tmp_path):
    slow = sandbox_factory(queue_seconds=30)
    online.configure(base_url=slow.url, poll_interval=0.05, poll_max_interval=0.1)
    result = online("create", URL, "--yes", "--wait", "--timeout", "1")
    assert result.exit_code == 6 and "akool status --wait" in result.stderr


def test_batch_with_one_bad_business_answer_is_partial(online, sandbox):
    sandbox.fault("create:business:code=1003")
    result = online("create", URL, URL + "?b", "--yes", "--concurrency", "1", "--json")
    assert result.exit_code == 7
    items = result.json()
    assert sum(1 for item in items if "_id" in item) == 1
    assert sum(1 for item in items if "error" in item) == 1


def test_batch_concurrency_is_bounded(online, sandbox_factory):
    box = sandbox_factory(latency=0.15)
    online.configure(base_url=box.url)
    result = online("create", *[f"{URL}?{i}" for i in range(6)], "--yes", "--concurrency", "3", "-q")
    assert result.exit_code == 0
    stats = box.stats()
    assert stats["requests"]["create"] == 6 and stats["max_inflight"]["create"] <= 3
    assert stats["max_inflight"]["create"] >= 2


def test_local_file_without_uploader_explains_both_ways_out(cli, sandbox):
    cli.configure(base_url=sandbox.url)
    result = cli("create", str(PNG), "--yes", env={"AKOOL_API_KEY": "sk-test-secret-0123456789abcdef"})
    assert result.exit_code == 2
    assert "upload.command" in result.stderr and "URL" in result.stderr
    assert sandbox.count("create") == 0


def test_upload_command_turns_a_file_into_a_url(online, sandbox, tmp_path):
    online.configure(base_url=sandbox.url, **{"upload": {"command": "echo https://cdn.example.com/$(basename {path})"}})
    result = online("create", str(PNG), "--yes")
    assert result.exit_code == 0, result.stderr
    assert sandbox.bodies("create")[0]["image_url"] == "https://cdn.example.com/photo.png"


def test_template_rows_and_variants_survive_the_price_probe(online, sandbox, tmp_path):
    # The first image's variants go out as a probe of one and then the rest: names still count 1, 2.
    out = tmp_path / "named"
    result = online("create", URL, URL + "?2", "--model", "AkoolImage2VideoFastV1", "--count", "2", "--yes",
                    "-o", f"{out}/{{row}}-{{index}}.mp4")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["1-1.mp4", "1-2.mp4", "2-1.mp4", "2-2.mp4"]
    counts = [b["count"] for b in sandbox.bodies("create_batch")]
    assert counts[0] == 1 and sorted(counts[1:]) == [1, 2]  # the probe first; the rest in any order


def test_a_local_soundtrack_is_uploaded_before_the_create(online, sandbox, tmp_path):
    online.configure("sandbox", sandbox_port=sandbox.server.server_address[1], poll_interval=0.05)
    song = tmp_path / "song.mp3"
    song.write_bytes(b"ID3" + bytes(2000))
    result = online("--sandbox", "create", str(PNG), str(PNG), "--audio", str(song), "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    bodies = sandbox.bodies("create")
    assert len(bodies) == 2 and all(b["audio_type"] == 2 for b in bodies)
    assert {b["audio_url"] for b in bodies} == {bodies[0]["audio_url"]}  # uploaded once, used by both
    assert bodies[0]["audio_url"].startswith(sandbox.url + "/_sandbox/files/")
