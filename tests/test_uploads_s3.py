"""upload.backend = s3 against a real S3-compatible server (moto's server mode) started on loopback by
these fixtures, with the sandbox as Akool: private objects, presigned links, content-addressed reuse,
prune, errors with their fixes, and create -> wait -> download with a local file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import Cli

from akool_cli.sandbox import SANDBOX_API_KEY

try:
    import boto3
    import moto  # noqa: F401 - the server runs from it
except ImportError:  # pragma: no cover - the test extra installs both
    pytest.skip("boto3 and moto[server] are not installed (pip install -e '.[test]')", allow_module_level=True)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MotoServer:
    """`python -m moto.server` in its own process on a loopback port; stopped by the fixture."""

    def __init__(self, tmp: Path, auth: bool = False) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if auth:  # the first three calls create an IAM user, its key and its policy; then every call is checked
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
        self.log = open(tmp / f"moto-{self.port}.log", "w")
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not start: " + (tmp / f"moto-{self.port}.log").read_text())
                time.sleep(0.05)
        self.key, self.secret = "AKIDTESTTESTTEST", "test-secret"
        if auth:
            iam = boto3.client("iam", endpoint_url=self.url, region_name=REGION, aws_access_key_id="x",
                               aws_secret_access_key="y")
            iam.create_user(UserName="akool")
            made = iam.create_access_key(UserName="akool")["AccessKey"]
            iam.put_user_policy(UserName="akool", PolicyName="s3", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
            self.key, self.secret = made["AccessKeyId"], made["SecretAccessKey"]

    def s3(self):
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id=self.key,
                            aws_secret_access_key=self.secret, config=Config(signature_version="s3v4"))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def bucket(moto_server, request) -> str:
    name = "akool-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    moto_server.s3().create_bucket(Bucket=name)
    return name


@pytest.fixture
def aws_env(monkeypatch, tmp_path, moto_server):
    """boto3 reads the standard chain from the process environment: only these credentials, no ~/.aws."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _configure(cli: Cli, server: "MotoServer | str", bucket: str, **extra) -> None:
    endpoint = server if isinstance(server, str) else server.url
    values = {"upload.backend": "s3", "upload.bucket": bucket, "upload.endpoint_url": endpoint,
              "upload.region": REGION, "upload.expires": 7200, **extra}
    import tomli_w

    text = cli.paths.config_file.read_text() if cli.paths.config_file.exists() else ""
    import tomllib

    data = tomllib.loads(text) if text else {}
    data.setdefault("profiles", {}).setdefault("default", {}).update(values)
    cli.paths.config_dir.mkdir(parents=True, exist_ok=True)
    cli.paths.config_file.write_text(tomli_w.dumps(data))


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    return path


def _keys(server: MotoServer, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in server.s3().list_objects_v2(Bucket=bucket).get("Contents", []))


# ---------------------------------------------------------------- the object and its link


def test_a_file_becomes_a_private_object_with_a_presigned_link(cli, moto_server, bucket, aws_env, photo):
    _configure(cli, moto_server, bucket)
    result = cli("upload", str(photo), "--json")
    assert result.exit_code == 0, result.stderr
    record = result.json()[0]
    url = record["url"]
    assert urllib.request.urlopen(url).read() == PNG  # the link serves exactly the file's bytes
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["7200"] and "X-Amz-Signature" in query
    assert record["key"] == f"akool-cli/{record['sha256']}.png" and record["reused"] is False
    grants = moto_server.s3().get_object_acl(Bucket=bucket, Key=record["key"])["Grants"]
    assert not [g for g in grants if "AllUsers" in json.dumps(g)]  # no public grant
    assert moto_server.s3().head_object(Bucket=bucket, Key=record["key"])["ContentType"] == "image/png"
    # People see `FILE  URL`; nothing secret is printed.
    plain = cli("upload", str(photo))
    assert plain.stdout.startswith(f"{photo}  http") and moto_server.secret not in plain.stdout + plain.stderr


def test_the_same_content_is_uploaded_once_and_gets_a_fresh_full_link(cli, moto_server, bucket, aws_env, photo,
                                                                       tmp_path):
    moto_server.s3().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    _configure(cli, moto_server, bucket)
    copy = tmp_path / "same-bytes-other-name.png"
    copy.write_bytes(PNG)
    first = cli("upload", str(photo), "--json").json()[0]
    second = cli("upload", str(copy), "--json").json()[0]
    assert second["key"] == first["key"] and second["reused"] is True
    versions = moto_server.s3().list_object_versions(Bucket=bucket)["Versions"]
    assert len(versions) == 1  # a second PUT would have made a second version
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(second["url"]).query)
    assert query["X-Amz-Expires"] == ["7200"]  # the reused object's link is a new one, valid the whole time
    assert urllib.request.urlopen(second["url"]).read() == PNG


def test_an_unsigned_get_is_refused_where_the_server_enforces_it(cli, tmp_path, monkeypatch, photo):
    server = MotoServer(tmp_path, auth=True)  # moto checks signatures in this mode
    try:
        server.s3().create_bucket(Bucket="akool-private")
        for key in list(os.environ):
            if key.startswith("AWS_"):
                monkeypatch.delenv(key)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        _configure(cli, server, "akool-private")
        result = cli("upload", str(photo), "--json")
        assert result.exit_code == 0, result.stderr
        key = result.json()[0]["key"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/akool-private/{key}")
        assert refused.value.code == 403
        # Wrong credentials: access denied, one line with its fix, the secret never shown.
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
        other = tmp_path / "other.png"
        other.write_bytes(PNG + b"x")
        denied = cli("upload", str(other))
        assert denied.exit_code == 3 and "access denied" in denied.stderr and "s3:PutObject" in denied.stderr
        assert "wrong-secret-value" not in denied.stderr and len(denied.stderr.strip().splitlines()) == 1
    finally:
        server.stop()


# ---------------------------------------------------------------- Akool gets the link


def test_create_wait_download_with_a_local_file_through_the_bucket(online, sandbox, moto_server, bucket, aws_env,
                                                                   photo, tmp_path):
    _configure(online, moto_server, bucket)
    out = tmp_path / "video.mp4"
    result = online("create", str(photo), "--effect", "squish", "--yes", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    sent = sandbox.bodies("create")[0]["image_url"]
    assert sent.startswith(f"{moto_server.url}/{bucket}/akool-cli/") and "X-Amz-Signature=" in sent
    assert urllib.request.urlopen(sent).read() == PNG
    assert out.read_bytes()[4:8] == b"ftyp"
    job = result.json()["_id"]
    listed = online("uploads", "list", "--json").json()
    assert listed[0]["job_ids"] == [job] and listed[0]["bucket"] == bucket and listed[0]["size"] == len(PNG)


def test_a_failed_upload_sends_nothing(online, sandbox, moto_server, aws_env, photo):
    _configure(online, moto_server, "akool-no-such-bucket")
    result = online("create", str(photo), "--effect", "squish", "--yes")
    assert result.exit_code == 2 and "does not exist" in result.stderr and "upload.bucket" in result.stderr
    assert sandbox.count("create") == 0 and len(result.stderr.strip().splitlines()) == 1


def test_every_upload_of_a_run_finishes_before_the_first_paid_request(online, sandbox, moto_server, bucket, aws_env,
                                                                       tmp_path):
    images = []
    for n in range(3):
        path = tmp_path / f"img{n}.png"
        path.write_bytes(PNG + bytes([n]))
        images.append(str(path))
    (tmp_path / "broken.png").write_bytes(PNG + b"!")
    _configure(online, moto_server, bucket)
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{p},k{n}\n" for n, p in enumerate(images)))
    result = online("batch", "run", str(manifest), "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(_keys(moto_server, bucket)) == 3 and sandbox.count("create") == 3
    assert all("X-Amz-Signature" in body["image_url"] for body in sandbox.bodies("create"))


# ---------------------------------------------------------------- dry runs and missing pieces


def test_local_files_without_an_uploader_fail_before_anything_in_every_mode(online, sandbox, photo, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"image,key\n{photo},a\n")
    for args in (["create", str(photo), "--yes"], ["create", str(photo), "--dry-run"],
                 ["batch", "run", str(manifest), "--yes"], ["batch", "run", str(manifest), "--dry-run"]):
        result = online(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "upload.backend s3" in result.stderr and "upload.command" in result.stderr, result.stderr
        assert result.stdout == ""
    assert sandbox.stats()["requests"].get("create", 0) == 0


def test_a_dry_run_names_the_uploader_and_uploads_nothing(online, sandbox, moto_server, bucket, aws_env, photo):
    _configure(online, moto_server, bucket)
    result = online("create", str(photo), "--effect", "squish", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "s3 backend" in result.stderr and f"s3://{bucket}/akool-cli/" in result.stderr
    assert "uploads nothing" in result.stderr
    assert _keys(moto_server, bucket) == [] and sandbox.count("create") == 0


def test_a_missing_bucket_setting_and_missing_credentials_say_what_to_do(cli, moto_server, aws_env, photo,
                                                                          monkeypatch):
    cli.configure(**{"upload.backend": "s3"})
    result = cli("upload", str(photo))
    assert result.exit_code == 2 and "no bucket is set" in result.stderr and "upload.bucket" in result.stderr
    _configure(cli, moto_server, "akool-whatever")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = cli("upload", str(photo))
    assert result.exit_code == 3 and "no AWS credentials" in result.stderr and "upload.aws_profile" in result.stderr
    _configure(cli, moto_server, "akool-whatever", **{"upload.aws_profile": "nope"})
    result = cli("upload", str(photo))
    assert result.exit_code == 2 and "'nope' does not exist" in result.stderr


def test_an_unreachable_endpoint_is_a_network_error(cli, aws_env, photo):
    _configure(cli, f"http://127.0.0.1:{_free_port()}", "akool-x")
    result = cli("upload", str(photo))
    assert result.exit_code == 8 and "could not reach the storage endpoint" in result.stderr


def test_clock_skew_is_explained():
    from botocore.exceptions import ClientError

    from akool_cli.api.s3 import S3Settings, explain

    error = explain(ClientError({"Error": {"Code": "RequestTimeTooSkewed", "Message": "skewed"}}, "PutObject"),
                    S3Settings("b-b-b", "akool-cli/", None, None, 3600))
    assert "clock" in error.message and "ntp" in (error.hint or "") and int(error.exit_code) == 3


def test_the_missing_extra_names_the_install_command(cli, tmp_path, photo):
    """A Python where boto3 cannot be imported: the error says how to add the extra, nothing is sent."""
    from conftest import process_env

    shadow = tmp_path / "shadow" / "boto3"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no boto3 here')\n")
    _configure(cli, "http://127.0.0.1:9", "akool-x")
    env = process_env(cli.home, AKOOL_CONFIG_DIR=str(cli.paths.config_dir), AKOOL_DATA_DIR=str(cli.paths.data_dir))
    env["PYTHONPATH"] = str(tmp_path / "shadow") + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "akool_cli", "upload", str(photo)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "boto3 (the s3 extra) is not installed" in done.stderr and "boto3>=1.34" in done.stderr


# ---------------------------------------------------------------- setting up, listing, pruning


def test_config_set_checks_the_bucket_with_one_harmless_call(cli, moto_server, bucket, aws_env):
    cli.configure(**{"upload.endpoint_url": moto_server.url, "upload.region": REGION})
    first = cli("config", "set", "upload.backend", "s3")
    assert first.exit_code == 0 and "next:" in first.stderr and "upload.bucket" in first.stderr
    ok = cli("config", "set", "upload.bucket", bucket)
    assert ok.exit_code == 0 and "reachable" in ok.stderr, ok.stderr
    missing = cli("config", "set", "upload.bucket", "akool-not-there")
    assert missing.exit_code == 0 and "warning:" in missing.stderr and "does not exist" in missing.stderr


def test_prune_deletes_only_this_tools_objects(cli, moto_server, bucket, aws_env, photo):
    s3 = moto_server.s3()
    s3.put_object(Bucket=bucket, Key="akool-cli/someone-elses.png", Body=b"x")  # in our folder, not ours
    s3.put_object(Bucket=bucket, Key="other/keep.png", Body=b"y")
    _configure(cli, moto_server, bucket)
    key = cli("upload", str(photo), "--json").json()[0]["key"]
    recent = cli("uploads", "prune", "--yes", "--json")  # used just now: kept (7 days by default)
    assert recent.exit_code == 0 and recent.json() == [] and key in _keys(moto_server, bucket)
    refused = cli("uploads", "prune", "--older-than", "0")
    assert refused.exit_code == 2 and "--yes" in refused.stderr  # no terminal to ask on
    preview = cli("uploads", "prune", "--older-than", "0", "--dry-run", "--json")
    assert [r["key"] for r in preview.json()] == [key] and key in _keys(moto_server, bucket)
    done = cli("uploads", "prune", "--older-than", "0", "--yes", "--json")
    assert done.exit_code == 0 and [r["result"] for r in done.json()] == ["deleted"]
    assert _keys(moto_server, bucket) == ["akool-cli/someone-elses.png", "other/keep.png"]
    assert cli("uploads", "list", "--json").json() == []
    assert cli("uploads", "list", "--all", "--json").json()[0]["deleted_at"]


def test_uploads_list_and_prune_without_an_s3_backend(cli):
    assert cli("uploads", "list").exit_code == 0
    result = cli("uploads", "prune", "--yes")
    assert result.exit_code == 2 and "upload.backend s3" in result.stderr


def test_the_sandbox_keeps_local_files_to_itself(online, sandbox, photo):
    result = online("--sandbox", "upload", str(photo), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()[0]["url"].startswith("http://127.0.0.1:")
    assert SANDBOX_API_KEY not in result.stdout


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv", "tsv", "ids"])
def test_upload_list_and_prune_print_every_format(cli, moto_server, bucket, aws_env, photo, fmt):
    from test_formats import well_formed

    _configure(cli, moto_server, bucket)
    for args in (["upload", str(photo)], ["uploads", "list"], ["uploads", "prune", "--older-than", "0", "--dry-run"]):
        result = cli(*args, "--format", fmt)
        assert result.exit_code == 0, (args, result.stderr)
        assert well_formed(fmt, result.stdout), (args, fmt, result.stdout)
    fields = cli("uploads", "list", "--json", "key,job_ids").json()
    assert list(fields[0]) == ["key", "job_ids"]
