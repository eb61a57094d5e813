"""Hostile input: whatever a server, a callback, a manifest or a file name sends is data.

A real HTTP server on loopback misbehaves on purpose (the sandbox's hostile fault kinds, and a
small hand-written file server below); everything is driven through the CLI and the exact outcome
is checked: exit code, nothing written outside the folder, bounded time, no terminal control.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import PNG, Cli

from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from akool_cli.sandbox import webhooks as sender

URL = "https://example.com/cat.png"
JOB = "689174694b4dbdd4ab3d28c9"


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


# ---------------------------------------------------------------- the sandbox serves only what it was given


def test_sandbox_files_endpoint_serves_no_other_file(sandbox_factory, tmp_path):
    secret = tmp_path / "credentials.toml"
    secret.write_text("api_key = 'sk-test-secret-0123456789abcdef'\n")
    box = sandbox_factory(state_file=tmp_path / "state" / "sandbox-state.json")
    port = box.server.server_address[1]
    for path in (f"/_sandbox/files/{secret}", f"/_sandbox/files//{secret}", "/_sandbox/files/../../etc/passwd",
                 "/_sandbox/files/0123456789abcdef/..", "/_sandbox/files/%2e%2e/%2e%2e/etc/passwd"):
        answer = _raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 404"), (path, answer[:80])
        assert b"sk-test-secret" not in answer


def test_sandbox_refuses_foreign_host_names(sandbox):
    port = sandbox.server.server_address[1]
    answer = _raw(port, b"GET /_sandbox/control/health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 421")
    ok = _raw(port, b"GET /_sandbox/control/health HTTP/1.1\r\nHost: localhost:1\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("request_bytes", [
    b"POST /api/open/v4/image2Video/resultsByIds HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /api/open/v4/image2Video/resultsByIds HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 400001\r\n"
    b"x-api-key: " + SANDBOX_API_KEY.encode() + b"\r\nConnection: close\r\n\r\n" + b"[" * 200000 + b"]" * 200001,
])
def test_sandbox_answers_malformed_requests_without_a_traceback(sandbox, request_bytes, capfd):
    answer = _raw(sandbox.server.server_address[1], request_bytes)
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 200"))
    assert b"code" in answer or b"error" in answer
    assert "Traceback" not in capfd.readouterr().err


# ---------------------------------------------------------------- server strings are data


def test_an_error_message_cannot_take_over_the_terminal(online, sandbox):
    sandbox.fault("results:escape")
    result = online("status", JOB)
    assert result.exit_code == 4
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\x9b" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")  # the newline forged no second line


def test_names_from_the_server_are_printed_inert(online, sandbox):
    sandbox.fault("effects:text")
    for args in (["effects", "--refresh"], ["effects", "--json"]):
        result = online(*args)
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\u001b" in online("effects", "--json").stdout  # still there, as JSON escapes


def test_ids_that_are_paths_never_reach_the_file_system(online, sandbox, tmp_path):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    out = tmp_path / "out"
    sandbox.fault("results:traversal:always")
    result = online("status", job, "-o", str(out) + "/", "--timeout", "2")
    assert result.exit_code != 0
    assert not list(tmp_path.rglob("*escaped*")) and not Path("/tmp/escaped.mp4").exists()


# ---------------------------------------------------------------- bounded work


def test_a_dripping_server_is_bounded_by_the_request_deadline(online, sandbox):
    online.configure(base_url=sandbox.url, timeout=2, request_deadline=3, retries=0)
    sandbox.fault("results:drip:seconds=0.5")
    started = time.monotonic()
    result = online("status", JOB)
    assert time.monotonic() - started < 8
    assert result.exit_code == 8 and "request_deadline" in result.stderr


def test_a_huge_answer_is_refused_not_buffered(online, sandbox):
    sandbox.fault("results:huge:seconds=40")
    result = online("status", JOB)
    assert result.exit_code == 8 and "16 MiB limit" in result.stderr


def test_deeply_nested_json_is_a_malformed_answer(online, sandbox):
    sandbox.fault("results:deep")
    result = online("status", JOB)
    assert result.exit_code == 8 and "nested too deeply" in result.stderr


# ---------------------------------------------------------------- downloads accept only videos


class FileServer(ThreadingHTTPServer):
    """An API that lists one completed job, and a file server that misbehaves as told."""

    daemon_threads = True

    def __init__(self, mode: str, tls: Any = None) -> None:
        super().__init__(("127.0.0.1", 0), _FileHandler)
        self.mode = mode
        self.hits: list[str] = []
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _FileHandler(BaseHTTPRequestHandler):
    server: FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # resultsByIds
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        video = {"http-downgrade": "https://127.0.0.1:1/never"}.get(self.server.mode, f"{self.server.url}/video")
        job = {"_id": JOB, "status": 3, "video_url": video, "create_time": int(time.time() * 1000)}
        self._send(200, json.dumps({"code": 1000, "msg": "OK", "data": {"result": [job]}}).encode(),
                   {"Content-Type": "application/json"})

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        mode = self.server.mode
        if mode == "loop":
            self._send(302, headers={"Location": "/video"})
        elif mode == "no-location":
            self._send(302)
        elif mode == "html":
            self._send(200, b"<html>login</html>", {"Content-Type": "text/html"})
        elif mode == "empty":
            self._send(200, b"", {"Content-Type": "video/mp4"})
        elif mode == "downgrade":
            self._send(302, headers={"Location": "http://127.0.0.1:1/video.mp4"})
        else:
            self._send(200, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000, {"Content-Type": "video/mp4"})


def _pointed_at(tmp_path: Path, url: str, **extra: Any) -> Cli:
    runner = Cli(tmp_path, env={"PATH": os.environ.get("PATH", ""), "AKOOL_API_KEY": SANDBOX_API_KEY})
    runner.configure(base_url=url, retries=0, **extra)
    return runner


@pytest.mark.parametrize("mode,needle", [("loop", "more than 5 redirects"), ("no-location", "without a Location"),
                                         ("html", "text/html, not a video"), ("empty", "empty (0 bytes)")])
def test_downloads_accept_only_videos(tmp_path, mode, needle):
    server = FileServer(mode)
    try:
        result = _pointed_at(tmp_path, server.url)("download", JOB, "-o", str(tmp_path / "v.mp4"))
    finally:
        server.shutdown()
    assert result.exit_code == 8 and needle in result.stderr, result.stderr
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".v.mp4*"))
    assert len(server.hits) <= 6


def _self_signed(tmp_path: Path):
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def test_https_downloads_use_ssl_cert_file_and_refuse_a_downgrade(tmp_path):
    context, cert_file = _self_signed(tmp_path)
    good = FileServer("video", tls=context)
    bad = FileServer("downgrade", tls=context)
    try:
        runner = _pointed_at(tmp_path, good.url)
        env = {"SSL_CERT_FILE": str(cert_file)}
        saved = runner("download", JOB, "-o", str(tmp_path / "ok.mp4"), env=env)
        assert saved.exit_code == 0, saved.stderr
        assert (tmp_path / "ok.mp4").read_bytes()[4:8] == b"ftyp"
        runner.configure(base_url=bad.url, retries=0)
        refused = runner("download", JOB, "-o", str(tmp_path / "no.mp4"), env=env)
        assert refused.exit_code == 8 and "from https to http" in refused.stderr
        untrusted = runner("download", JOB, "-o", str(tmp_path / "no.mp4"))  # no SSL_CERT_FILE: not trusted
        assert untrusted.exit_code == 8
    finally:
        good.shutdown()
        bad.shutdown()


class Proxy(ThreadingHTTPServer):
    """A plain HTTP forward proxy that counts what it relays."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.relayed: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        from urllib.parse import urlsplit

        self.server.relayed.append(self.path)
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        conn.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""), body or None, headers)
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = _relay


def test_downloads_go_through_the_same_proxy_as_api_calls(online, sandbox, tmp_path):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    proxy = Proxy()
    try:
        env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}"}
        result = online("download", job, "-o", str(tmp_path / "v.mp4"), env=env)
        assert result.exit_code == 0, result.stderr
        assert any("resultsByIds" in p for p in proxy.relayed) and any("/_sandbox/videos/" in p for p in proxy.relayed)
        bypassed = online("download", job, "-o", str(tmp_path / "w.mp4"), env={**env, "NO_PROXY": "127.0.0.1"})
        assert bypassed.exit_code == 0 and len(proxy.relayed) == 2
    finally:
        proxy.shutdown()


@pytest.mark.parametrize("target", ["/dev/null", "DIR", "LINK"])
def test_download_never_replaces_a_device_a_folder_or_a_link(online, sandbox, tmp_path, target):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    if target == "DIR":  # the video's own name is taken by a folder
        os.makedirs(tmp_path / "folder" / f"{job}.mp4")
        target = str(tmp_path / "folder" / f"{job}.mp4")
    elif target == "LINK":
        (tmp_path / "elsewhere.mp4").write_bytes(b"keep")
        os.symlink(tmp_path / "elsewhere.mp4", tmp_path / "link.mp4")
        target = str(tmp_path / "link.mp4")
    before = os.lstat(target).st_mode
    result = online("download", job, "-o", str(tmp_path / "folder") + "/" if "folder" in target else target, "--force")
    assert result.exit_code == 2, result.stderr
    assert os.lstat(target).st_mode == before
    if target == "/dev/null":
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if target.endswith("link.mp4"):
        assert (tmp_path / "elsewhere.mp4").read_bytes() == b"keep"  # not written through the symlink


# ---------------------------------------------------------------- the webhook listener


def test_non_finite_timestamps_and_tolerances_are_refused(cli):
    from akool_cli.api.webhook import ReplayGuard, WebhookError, open_callback

    body = sender.callback_body({"_id": JOB, "status": 3}, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    for stamp in ("nan", "inf", "-inf"):
        forged = {**body, "timestamp": stamp}
        forged["signature"] = sender.sign(SANDBOX_CLIENT_ID, stamp, forged["nonce"], forged["dataEncrypt"])
        with pytest.raises(WebhookError) as caught:
            open_callback(forged, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, now=time.time(), guard=ReplayGuard())
        assert caught.value.status == 400
    result = cli("--sandbox", "webhook", "listen", "--tolerance", "nan")
    assert result.exit_code == 2


def test_a_resigned_replay_is_not_processed_again():
    from akool_cli.api.webhook import ReplayGuard, open_callback

    guard = ReplayGuard()
    first = sender.callback_body({"_id": JOB, "status": 3}, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    assert not open_callback(first, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, now=time.time(), guard=guard).replay
    # The signature needs only the clientId: an attacker re-signs the captured payload, fresh stamp and nonce.
    stamp, nonce = str(int(time.time() * 1000) + 7), "99999"
    again = {"dataEncrypt": first["dataEncrypt"], "timestamp": stamp, "nonce": nonce,
             "signature": sender.sign(SANDBOX_CLIENT_ID, stamp, nonce, first["dataEncrypt"])}
    assert open_callback(again, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, now=time.time(), guard=guard).replay


def test_replay_memory_is_bounded():
    from akool_cli.api.webhook import ReplayGuard

    guard = ReplayGuard(tolerance=10, limit=100)
    for n in range(1000):
        assert guard.first_time(f"payload-{n}", now=1000.0 + n / 1000)
    assert len(guard._seen) <= 100
    assert guard.first_time("payload-0", now=5000.0)  # long expired: a new event


def test_the_listener_holds_no_thread_per_slow_client():
    from akool_cli.api.webhook import ReplayGuard
    from akool_cli.webhook_server import MAX_WORKERS, Receiver

    events: list[dict] = []
    receiver = Receiver("127.0.0.1", 0, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, ReplayGuard(), events.append,
                        lambda error: None)
    threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = receiver.server_address[1]
    before = threading.active_count()
    held = []
    try:
        for _ in range(120):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # never finished
            held.append(sock)
        time.sleep(0.5)
        assert threading.active_count() - before <= MAX_WORKERS + 2
        answer = _raw(port, b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n")
        # Full: the slowest sender was closed to make room, so this request is served (400: a bad length).
        assert answer.split(b"\r\n")[0].endswith(b"400 Bad Request"), answer[:60]
    finally:
        for sock in held:
            sock.close()
        receiver.shutdown()
        receiver.server_close()


def test_listener_refuses_malformed_requests_with_4xx(tmp_path):
    from test_webhooks import free_port, start_listener

    port = free_port()
    proc = start_listener(tmp_path, port, "--json", "--max-events", "1")
    try:
        bad_length = _raw(port, b"POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n")
        assert bad_length.split(b"\r\n")[0].endswith(b" 400 Bad Request")
        deep = b"[" * 100000
        nested = _raw(port, b"POST /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                      + str(len(deep)).encode() + b"\r\n\r\n" + deep)
        assert b" 400 " in nested.split(b"\r\n")[0]
        bad_id = sender.callback_body({"_id": "../../x", "status": 3, "url": "http://127.0.0.1:1/v.mp4"},
                                      SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
        body = json.dumps(bad_id).encode()
        answer = _raw(port, b"POST /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert b" 400 " in answer.split(b"\r\n")[0]
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err


# ---------------------------------------------------------------- the uploader


HOSTILE_NAMES = ["-rf.png", "$(touch PWNED).png", "`touch PWNED`.png", "a;touch PWNED.png", "a' ; touch PWNED '.png",
                 'a"$(touch PWNED)".png', "a\\$(touch PWNED).png", "--help.png", "a|touch PWNED.png",
                 "a&&touch PWNED.png", "a\ntouch PWNED.png", "a$IFS.png", "*.png"]


@pytest.mark.parametrize("template", ["echo https://up.example/{path}", 'echo "https://up.example/$AKOOL_UPLOAD_FILE"',
                                      'echo "https://up.example/$1"'])
def test_hostile_file_names_run_no_code(online, sandbox, tmp_path, template):
    work = tmp_path / "work"
    work.mkdir()
    online.configure(base_url=sandbox.url, **{"upload": {"command": template}})
    for name in HOSTILE_NAMES:
        image = work / name
        image.write_bytes(PNG.read_bytes())
        result = online("create", str(image), "--yes", "--dry-run")
        assert result.exit_code == 0
        uploaded = online("create", str(image), "--yes", "-q")
        # A name with a newline makes `echo` print two lines, so the last is no URL: refused, nothing run.
        assert uploaded.exit_code == (2 if "\n" in name else 0), (name, uploaded.stderr)
        image.unlink()
    assert not list(tmp_path.rglob("PWNED*")) and not Path("PWNED").exists()


def test_a_double_quoted_path_template_is_refused(online, sandbox):
    refused = online("config", "set", "upload.command", 'aws s3 cp "{path}" s3://b/')
    assert refused.exit_code == 2 and "AKOOL_UPLOAD_FILE" in refused.stderr
    online.configure(base_url=sandbox.url, **{"upload": {"command": 'echo "https://x/{path}"'}})
    result = online("create", str(PNG), "--yes")
    assert result.exit_code == 2 and sandbox.count("create") == 0


def test_a_timed_out_uploader_leaves_no_process_behind(online, sandbox, tmp_path):
    pid_file = tmp_path / "child.pid"
    command = f"sleep 30 & echo $! > {pid_file}; wait"
    online.configure(base_url=sandbox.url, **{"upload": {"command": command, "timeout": 0.5}})
    result = online("create", str(PNG), "--yes")
    assert result.exit_code == 2 and "ran over" in result.stderr
    pid = int(pid_file.read_text())
    deadline = time.time() + 5
    while time.time() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that will never reap it (PID 1 in containers)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


# ---------------------------------------------------------------- local files and odd input


def test_credentials_symlink_is_not_followed(cli, tmp_path):
    target = tmp_path / "elsewhere.toml"
    target.write_text("[profiles.default]\napi_key = 'sk-test-secret-0123456789abcdef'\n")
    target.chmod(0o644)
    cli.paths.config_dir.mkdir(parents=True, exist_ok=True)
    os.symlink(target, cli.paths.credentials_file)
    result = cli("auth", "status")
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("args", [
    ["create", "http://[::1", "--yes"],
    ["history", "--limit", "99999999999999999999"],
    ["status", "689174694b4dbdd4ab3d28c\x00"],
    ["create", "a\x00b.png", "--yes"],
    ["config", "set", "poll_interval", "1e-300"],
    ["config", "set", "timeout", "nan"],
])
def test_odd_input_is_a_clear_usage_error(cli, args):
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error:") and "this is a bug" not in result.stderr


def test_binary_stdin_to_webhook_decrypt(tmp_path):
    import subprocess
    import sys

    from conftest import process_env

    proc = subprocess.run([sys.executable, "-m", "akool_cli", "--sandbox", "webhook", "decrypt", "-"],
                          input=b"\xff\xfe\x00\x80binary", capture_output=True, env=process_env(tmp_path), timeout=30)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr


def test_remote_polls_are_at_least_a_second_apart(online, sandbox):
    from akool_cli.flows.wait import poll_policy
    from akool_cli.context import App

    online.configure(base_url="https://openapi.akool.com", poll_interval=0.05)
    import io

    from akool_cli.context import Runtime

    runtime = Runtime(env={}, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(), paths=online.paths)
    assert poll_policy(App(runtime).deps(), None).interval == 1.0
    online.configure(base_url=sandbox.url, poll_interval=0.05)
    assert poll_policy(App(runtime).deps(), None).interval == 0.05


# ---------------------------------------------------------------- round three (#21): odd bytes, honest advice

def test_a_latin1_manifest_is_a_usage_error_not_a_bug(online, sandbox, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(b"image,key,prompt\nhttps://example.com/a.png,caf\xe9,\xe9t\xe9\n")
    result = online("batch", "run", str(manifest), "--yes")
    assert result.exit_code == 2 and "not UTF-8" in result.stderr and sandbox.count("create") == 0


def test_a_cell_far_over_the_limit_is_refused_while_reading(online, sandbox, tmp_path):
    manifest = tmp_path / "m.jsonl"
    with manifest.open("w") as handle:
        handle.write('{"image": "https://example.com/a.png", "prompt": "' + "x" * (30 * 1024 * 1024) + '"}\n')
    result = online("batch", "run", str(manifest), "--yes", "--dry-run")
    assert result.exit_code == 2 and "longer than" in result.stderr


def test_a_nul_in_a_path_is_a_usage_error(online, sandbox, tmp_path):
    from akool_cli.core.errors import UsageError
    from akool_cli.core.validation import local_path

    with pytest.raises(UsageError):
        local_path("videos/a\x00.mp4")
    result = online("download", "0" * 24, "-o", "out\x00.mp4")
    assert result.exit_code == 2 and "NUL" in result.stderr


def test_a_delete_retried_after_it_took_effect_reports_deleted(online, sandbox):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    assert online("delete", job, "--yes").exit_code == 0
    again = online("delete", job, "--yes", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["deleted"] == [job] and again.json()["already_gone"] == [job]
    assert "already gone" in online("delete", job, "--yes").stdout


@pytest.mark.parametrize("error,expected,not_expected", [
    (sqlite3.DatabaseError("database disk image is malformed"), "damaged", "writable"),
    (sqlite3.OperationalError("database or disk is full"), "disk is full", "mv "),
    (sqlite3.OperationalError("attempt to write a readonly database"), "not writable", "mv "),
    (sqlite3.OperationalError("database is locked"), "another akool process", "mv "),
])
def test_history_errors_give_advice_that_fits(tmp_path, error, expected, not_expected):
    from akool_cli.store.history import HistoryError

    hint = HistoryError(tmp_path / "h.sqlite3", error).hint or ""
    assert expected in hint and not_expected not in hint


def test_a_healthy_history_on_a_read_only_mount_is_not_called_damaged(tmp_path):
    import subprocess

    from akool_cli.store.history import History, HistoryError

    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        healthy = History(mount / "h.sqlite3")
        healthy.recent(1)  # a healthy file, then the mount turns read-only
        healthy.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        with pytest.raises(HistoryError) as caught:
            history = History(mount / "h.sqlite3")
            history.recent(1)
            history.mark_deleted(["0" * 24])
        hint = caught.value.hint or ""
        assert "not writable" in hint and "mv " not in hint and "damaged" not in hint, hint
    finally:
        import gc

        gc.collect()  # the refused connection, held by the traceback, lets go of the file
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_no_cell_of_a_report_or_listing_runs_in_a_spreadsheet(online, sandbox, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text('image,key\nhttps://example.com/a.png,"=HYPERLINK(""http://evil"",""x"")"\n'
                        "https://example.com/b.png,+cmd|' /C calc'!A0\nhttps://example.com/c.png,@SUM(A1)\n")
    assert online("batch", "run", str(manifest), "--yes").exit_code == 0
    run = online("batch", "list", "--json").json()[0]["id"]
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        import csv
        import io

        report = list(csv.DictReader(io.StringIO(online("batch", "report", run, "--format", fmt).stdout),
                                     delimiter=delimiter))
        assert sorted(r["key"] for r in report) == ["'+cmd|' /C calc'!A0", "'=HYPERLINK(\"http://evil\",\"x\")",
                                                    "'@SUM(A1)"]
    keys = sorted(r["key"] for r in online("batch", "report", run, "--format", "json").json())
    assert keys[0].startswith(("+", "=", "@"))  # JSON keeps the raw value


def test_a_dripping_server_cannot_outlast_the_command_s_timeout(online, sandbox):
    # Every read is quick (one byte each half second), every request under request_deadline (60 s), and
    # 5 attempts would take 5 minutes: the command's own --timeout bounds them all.
    job = online("create", URL, "--yes", "--json").json()["_id"]
    sandbox.fault("results:drip:seconds=0.5")
    started = time.monotonic()
    result = online("status", job, "--wait", "--timeout", "3")
    assert result.exit_code in (6, 8), result.stderr
    assert time.monotonic() - started < 30  # bound: 3 s plus start-up, far from the 300 s of five attempts
    assert "--timeout" in result.stderr or "gave up" in result.stderr


def test_a_command_that_does_not_wait_is_bounded_by_command_deadline(online, sandbox):
    online.configure(base_url=sandbox.url, command_deadline=2)
    sandbox.fault("effects:drip:seconds=0.5")
    started = time.monotonic()
    result = online("effects", "--refresh")
    assert result.exit_code == 8 and "command_deadline" in result.stderr
    assert time.monotonic() - started < 30
