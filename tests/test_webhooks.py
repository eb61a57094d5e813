"""Webhooks: a fixed vector made with openssl, refusals, the listener over HTTP, and the end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, CapturedPopen, process_env

from akool_cli.api.webhook import ReplayGuard, WebhookError, decrypt, open_callback, signature
from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from akool_cli.sandbox import webhooks as sender

# Computed outside Python, independently of both implementations:
#   printf '%s' "$PLAIN" | openssl enc -aes-192-cbc -K <hex of SECRET> -iv <hex of CLIENT_ID> -base64 -A
#   printf '%s\n' CLIENT_ID TIMESTAMP NONCE "$ENC" | LC_ALL=C sort | tr -d '\n' | openssl sha1
CLIENT_ID = "sandbox-client16"
SECRET = "sandbox-secret-key-24byt"
TIMESTAMP = "1754377291791"
NONCE = "4721"
PLAIN = ('{"_id":"689174694b4dbdd4ab3d28c9","status":3,"type":"image2video",'
         '"url":"https://d2qf6ukcym4kn9.cloudfront.net/1754377291791-1423.mp4"}')
ENC = ("IuN25TskhC6SW5sQTMabx/xKmYELxNqwoNITMSgFqJpvqE99qqTIyc9sOxWKxE2UJ1a6tgdumDCLCO21ovJL/9lHBoRKsmUd61Y1TeRUcu"
       "LhyWO24S78z2ypxKa43fvVJnuqQDrkrctfEIqmZ81DnF5SfJh/EiOf3/J3wMRas7WPF/zHBAN3W2gXUQ6tPk+/")
SIGNATURE = "102ff2edc9dc6f0b4b6dbf5189e0fd97dc466777"
BODY = {"signature": SIGNATURE, "dataEncrypt": ENC, "timestamp": int(TIMESTAMP), "nonce": NONCE}
NOW = int(TIMESTAMP) / 1000 + 5


def test_fixed_vector_receiver_side():
    assert signature(CLIENT_ID, TIMESTAMP, NONCE, ENC) == SIGNATURE
    assert decrypt(ENC, CLIENT_ID, SECRET) == json.loads(PLAIN)


def test_fixed_vector_sandbox_side():
    assert sender.encrypt(json.loads(PLAIN), CLIENT_ID, SECRET) == ENC
    assert sender.sign(CLIENT_ID, TIMESTAMP, NONCE, ENC) == SIGNATURE


def test_valid_callback_opens():
    callback = open_callback(BODY, CLIENT_ID, SECRET, now=NOW, guard=ReplayGuard())
    assert callback.event["status"] == 3 and not callback.replay


def test_bad_signature_is_401():
    with pytest.raises(WebhookError) as caught:
        open_callback({**BODY, "signature": "0" * 40}, CLIENT_ID, SECRET, now=NOW, guard=None)
    assert caught.value.status == 401


def test_tampered_ciphertext_fails_the_signature():
    tampered = ENC[:10] + ("A" if ENC[10] != "A" else "B") + ENC[11:]
    with pytest.raises(WebhookError) as caught:
        open_callback({**BODY, "dataEncrypt": tampered}, CLIENT_ID, SECRET, now=NOW, guard=None)
    assert caught.value.status == 401


def test_tampered_and_resigned_ciphertext_does_not_decrypt():
    tampered = "AAAA" + ENC[4:]
    body = {**BODY, "dataEncrypt": tampered, "signature": signature(CLIENT_ID, TIMESTAMP, NONCE, tampered)}
    with pytest.raises(WebhookError) as caught:
        open_callback(body, CLIENT_ID, SECRET, now=NOW, guard=None)
    assert caught.value.status == 400


def test_wrong_key_does_not_decrypt():
    with pytest.raises(WebhookError) as caught:
        open_callback(BODY, CLIENT_ID, "another-secret-key-24byt", now=NOW, guard=None)
    assert caught.value.status == 400 and "decrypt" in caught.value.message


def test_replay_is_flagged():
    guard = ReplayGuard()
    assert not open_callback(BODY, CLIENT_ID, SECRET, now=NOW, guard=guard).replay
    assert open_callback(BODY, CLIENT_ID, SECRET, now=NOW + 1, guard=guard).replay


def test_an_undecryptable_callback_is_not_remembered_as_seen():
    guard = ReplayGuard()
    with pytest.raises(WebhookError):
        open_callback(BODY, CLIENT_ID, "another-secret-key-24byt", now=NOW, guard=guard)
    assert not open_callback(BODY, CLIENT_ID, SECRET, now=NOW, guard=guard).replay


def test_stale_timestamp_is_rejected():
    with pytest.raises(WebhookError) as caught:
        open_callback(BODY, CLIENT_ID, SECRET, now=NOW + 3600, guard=ReplayGuard(tolerance=300))
    assert caught.value.status == 401 and "stale" in caught.value.message


def test_decrypt_command(cli, tmp_path):
    env = {"AKOOL_API_KEY": SECRET, "AKOOL_CLIENT_ID": CLIENT_ID}
    body = tmp_path / "callback.json"
    body.write_text(json.dumps(BODY))
    from_file = cli("webhook", "decrypt", str(body), env=env)
    assert from_file.exit_code == 0 and from_file.json() == json.loads(PLAIN)
    from_stdin = cli("webhook", "decrypt", "-", env=env, stdin=json.dumps(BODY))
    assert from_stdin.json()["_id"] == "689174694b4dbdd4ab3d28c9"
    bad = cli("webhook", "decrypt", "-", env=env, stdin=json.dumps({**BODY, "signature": "f" * 40}))
    assert bad.exit_code == 2 and "bad signature" in bad.stderr
    junk = cli("webhook", "decrypt", "-", env=env, stdin="not json")
    assert junk.exit_code == 2


def test_decrypt_needs_the_client_id(cli):
    result = cli("webhook", "decrypt", "-", env={"AKOOL_API_KEY": SECRET}, stdin=json.dumps(BODY))
    assert result.exit_code == 2 and "--client-id" in result.stderr


# ---------------------------------------------------------------- the listener, over real HTTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_listener(home: Path, port: int, *args: str) -> subprocess.Popen:
    env = process_env(home, AKOOL_API_KEY=SANDBOX_API_KEY, AKOOL_CLIENT_ID=SANDBOX_CLIENT_ID)
    proc = CapturedPopen([sys.executable, "-m", "akool_cli", "webhook", "listen", "--port", str(port), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("listener did not start: " + proc.communicate()[1])


def post(port: int, body: bytes) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hook", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def fresh_body(payload: dict) -> bytes:
    return json.dumps(sender.callback_body(payload, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)).encode()


def test_listener_answers_like_akool_expects(tmp_path):
    port = free_port()
    proc = start_listener(tmp_path, port, "--json", "--max-events", "1")
    try:
        assert post(port, b"{not json") == 400
        good = fresh_body({"_id": "689174694b4dbdd4ab3d28c9", "status": 2, "type": "image2video"})
        forged = json.loads(good)
        forged["signature"] = "0" * 40
        assert post(port, json.dumps(forged).encode()) == 401
        stale = json.loads(good)
        stale["timestamp"] = 1000
        assert post(port, json.dumps(stale).encode()) == 401
        assert post(port, good) == 200
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [
        {"_id": "689174694b4dbdd4ab3d28c9", "status": 2, "type": "image2video"}]
    assert err.count("refused a callback") == 3


def test_listener_ignores_replays(tmp_path):
    port = free_port()
    proc = start_listener(tmp_path, port, "--json", "--max-events", "2")
    try:
        first = fresh_body({"_id": "689174694b4dbdd4ab3d28c9", "status": 2, "type": "image2video"})
        assert post(port, first) == 200
        assert post(port, first) == 200  # answered, so Akool stops resending, but not processed again
        assert post(port, fresh_body({"_id": "689174694b4dbdd4ab3d28c9", "status": 4, "type": "image2video"})) == 200
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert [json.loads(line)["status"] for line in out.splitlines()] == [2, 4]


def test_end_to_end_sandbox_listener_create(online, sandbox, tmp_path):
    port = free_port()
    forwarded = tmp_path / "events.jsonl"
    proc = start_listener(online.home, port, "--json", "--max-events", "2", "-o", str(tmp_path / "videos"),
                          "--exec", f"cat >> {forwarded}; echo >> {forwarded}")
    try:
        result = online("create", "https://example.com/cat.png", "--yes", "--json",
                        "--webhook", f"http://127.0.0.1:{port}/akool")
        assert result.exit_code == 0, result.stderr
        job_id = result.json()["_id"]
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["status"] for e in events] == [2, 3]
    assert events[1]["_id"] == job_id and events[1]["url"].endswith(f"/_sandbox/videos/{job_id}.mp4")
    assert sandbox.count("results") == 0  # no polling at all
    [entry] = online("history", "--json").json()
    assert entry["status_name"] == "completed" and entry["video_url"] == events[1]["url"]
    assert (tmp_path / "videos" / f"{job_id}.mp4").read_bytes()[4:8] == b"ftyp"
    assert [json.loads(line)["status"] for line in forwarded.read_text().splitlines() if line] == [2, 3]
    assert all(hook["delivered"] for hook in sandbox.stats()["webhooks"])


def test_sandbox_retries_until_the_receiver_answers_200(sandbox_factory, tmp_path):
    box = sandbox_factory(webhook_attempts=3, webhook_retry_seconds=0.05)
    port = free_port()  # nobody listens here: every attempt fails
    from akool_cli.api.client import AkoolClient
    from akool_cli.api.credentials import Credentials
    from akool_cli.api.models import CreateRequest

    with AkoolClient(box.url, Credentials(api_key=SANDBOX_API_KEY)) as client:
        client.create_video(CreateRequest("https://example.com/a.png", "p", "", "720p", 5,
                                          webhookurl=f"http://127.0.0.1:{port}/x"))
    deadline = time.time() + 10
    while len(box.stats()["webhooks"]) < 2 and time.time() < deadline:
        time.sleep(0.05)
    hooks = box.stats()["webhooks"]
    assert [h["status"] for h in hooks] == [2, 3]
    assert all(not h["delivered"] and h["attempts"] == 3 for h in hooks)


def test_listener_forwards_events(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    sink = HTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    port = free_port()
    proc = start_listener(tmp_path, port, "--max-events", "1", "--forward-to",
                          f"http://127.0.0.1:{sink.server_address[1]}/events")
    try:
        assert post(port, fresh_body({"_id": "689174694b4dbdd4ab3d28c9", "status": 3, "type": "image2video",
                                      "url": "https://cdn.example.com/v.mp4"})) == 200
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        sink.shutdown()
    assert proc.returncode == 0, err
    assert out.strip() == "689174694b4dbdd4ab3d28c9  completed  https://cdn.example.com/v.mp4"
    assert received == [{"_id": "689174694b4dbdd4ab3d28c9", "status": 3, "type": "image2video",
                         "url": "https://cdn.example.com/v.mp4"}]


def test_a_late_callback_does_not_undo_a_final_status(tmp_path):
    from akool_cli.api.models import Job
    from akool_cli.store.history import History, entry_for_job

    history = History(tmp_path / "h.sqlite3")
    history.add(entry_for_job(Job("689174694b4dbdd4ab3d28c9", 1), kind="create", base_url="b", profile="p",
                              now=1.0, source=None, video_length=5, estimate=20, request=None))
    history.update_from_jobs([Job("689174694b4dbdd4ab3d28c9", 3, video_url="https://cdn.example.com/v.mp4")])
    history.update_from_jobs([Job("689174694b4dbdd4ab3d28c9", 2)])  # processing, delivered late
    entry = history.get("689174694b4dbdd4ab3d28c9")
    assert entry.status == 3 and entry.video_url == "https://cdn.example.com/v.mp4"


def test_missing_crypto_library_is_a_clear_error(tmp_path):
    # A stand-in package that fails to import, as on a machine without the [webhooks] extra.
    fake = tmp_path / "shadow" / "cryptography"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no cryptography here')\n")
    env = process_env(tmp_path, PYTHONPATH=f"{fake.parent}{os.pathsep}{ROOT}", AKOOL_API_KEY=SECRET,
                      AKOOL_CLIENT_ID=CLIENT_ID)
    done = subprocess.run([sys.executable, "-m", "akool_cli", "webhook", "decrypt", "-"], input=json.dumps(BODY),
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "-m pip install 'cryptography>=42'" in done.stderr and "Traceback" not in done.stderr


def test_signed_callbacks_are_answered_under_a_drip_from_100_connections(tmp_path):
    # 100 connections each send a byte now and then (headers never end): the listener closes the slowest
    # when full, and each connection within its whole-request deadline, so real callbacks get 200.
    port = free_port()
    proc = start_listener(tmp_path, port, "--json")
    drips: list[socket.socket] = []
    try:
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\n")
            drips.append(sock)
        answered = []
        for n in range(5):
            for sock in drips[n * 20:(n + 1) * 20]:
                try:
                    sock.sendall(b"X-Drip: 1\r\n")
                except OSError:
                    pass  # already closed by the listener: as intended
            body = fresh_body({"_id": f"{n:024x}", "status": 2, "type": "image2video"})
            answered.append(post(port, body))
        assert answered == [200] * 5
    finally:
        for sock in drips:
            sock.close()
        proc.terminate()
        proc.communicate(timeout=20)


def test_a_connection_that_never_finishes_its_request_is_closed(tmp_path):
    from akool_cli.webhook_server import REQUEST_DEADLINE

    port = free_port()
    proc = start_listener(tmp_path, port, "--json")
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_DEADLINE + 20)
        sock.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        closed = False
        for _ in range(int(REQUEST_DEADLINE) + 15):  # one byte a second: every read is quick, the whole is not
            try:
                sock.sendall(b" ")
                if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            time.sleep(1)
        assert closed, "the listener kept a dripping connection past its whole-request deadline"
        sock.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
