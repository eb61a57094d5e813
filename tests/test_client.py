"""The HTTP client over real HTTP against the sandbox: auth, envelopes, retries, never-resend."""

from __future__ import annotations

import pytest

from akool_cli import __version__
from akool_cli.api.client import AkoolClient, RetryPolicy, decode_envelope, parse_retry_after
from akool_cli.api.models import CreateRequest
from akool_cli.api.credentials import Credentials
from akool_cli.core.errors import ApiAuthError, ApiError, OutcomeUnknownError, TransportError
from akool_cli.output.hints import advice
from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET


def body(**changes):
    base = dict(image_url="https://example.com/cat.png", prompt="wave", negative_prompt="", resolution="720p",
                video_length=5)
    base.update(changes)
    return CreateRequest(**base)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(sandbox, creds=None, **kwargs):
    sleeps = Sleeps()
    client = AkoolClient(sandbox.url, creds or Credentials(api_key=SANDBOX_API_KEY), sleep=sleeps,
                         rand=lambda: 0.5, **kwargs)
    return client, sleeps


def test_api_key_header_and_user_agent_on_the_wire(sandbox):
    client, _ = make(sandbox)
    assert len(client.effects()) >= 10
    headers = sandbox.headers("effects")[0]
    assert headers["x-api-key"] == SANDBOX_API_KEY
    assert "authorization" not in headers
    assert headers["user-agent"] == f"akool-cli/{__version__}"


def test_client_credentials_mint_a_bearer_token_and_cache_it(sandbox):
    saved = []
    creds = Credentials(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET)
    client, _ = make(sandbox, creds, on_token=saved.append)
    client.effects()
    client.effects()
    assert sandbox.count("token") == 1
    assert sandbox.bodies("token") == [{"clientId": SANDBOX_CLIENT_ID, "clientSecret": SANDBOX_CLIENT_SECRET}]
    headers = sandbox.headers("effects")
    assert all(h["authorization"] == f"Bearer {saved[0]}" for h in headers)
    assert all("x-api-key" not in h for h in headers)


def test_expired_token_is_reminted_once_and_the_call_retried_once(sandbox):
    creds = Credentials(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET, token="stale-token")
    client, _ = make(sandbox, creds)
    client.effects()
    assert sandbox.count("token") == 1 and sandbox.count("effects") == 2
    assert creds.token != "stale-token"


def test_a_second_1101_is_an_auth_error_not_a_loop(sandbox):
    sandbox.fault("effects:business:code=1101:times=2")
    creds = Credentials(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET, token="t")
    client, _ = make(sandbox, creds)
    with pytest.raises(ApiAuthError) as caught:
        client.effects()
    assert caught.value.exit_code == 3
    assert sandbox.count("token") == 1 and sandbox.count("effects") == 2


def command(*args: str) -> str:
    return " ".join(["akool", *args])


def test_1101_with_an_api_key_is_not_retried(sandbox):
    client, _ = make(sandbox, Credentials(api_key="not-the-key"))
    with pytest.raises(ApiAuthError) as caught:
        client.effects()
    # The client raises the code; the CLI's hint table turns it into advice.
    assert caught.value.code == 1101 and "akool auth login" in advice(caught.value, command)
    assert sandbox.count("effects") == 1


def test_create_after_token_expiry_is_sent_again_only_because_it_was_refused(sandbox):
    creds = Credentials(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET)
    client, _ = make(sandbox, creds)
    client.effects()
    sandbox.expire_tokens()
    job = client.create_video(body())
    assert job.id and sandbox.count("create") == 2 and sandbox.stats()["jobs"] == 1


@pytest.mark.parametrize("spec", ["create:503", "create:500", "create:429:retry_after=0", "create:drop",
                                  "create:html", "create:truncated", "create:503:after"])
def test_create_is_sent_exactly_once_whatever_the_fault(sandbox, spec):
    sandbox.fault(spec)
    client, sleeps = make(sandbox)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_video(body())
    assert sandbox.count("create") == 1
    assert sleeps == []
    assert "may or may not exist" in caught.value.message and "NOT sent again" in caught.value.message
    # The id never arrived: the advice names what can show the job (the console), not a listing that cannot.
    said = advice(caught.value, command)
    assert caught.value.reason == "created-unknown" and "console" in said and "akool" not in said


def test_create_times_out_once_without_resending(sandbox):
    sandbox.fault("create:slow:seconds=1")
    client, _ = make(sandbox, timeout=0.2)
    with pytest.raises(OutcomeUnknownError):
        client.create_video(body())
    assert sandbox.count("create") == 1


def test_a_token_failure_before_create_is_not_an_unknown_outcome(sandbox):
    sandbox.fault("token:503:always")
    creds = Credentials(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET)
    client, _ = make(sandbox, creds, retry=RetryPolicy(retries=1))
    with pytest.raises(TransportError) as caught:
        client.create_video(body())
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert sandbox.count("create") == 0 and sandbox.count("token") == 2


def test_add_audio_is_never_resent(sandbox):
    client, _ = make(sandbox)
    sandbox.fault("add_audio:503")
    from akool_cli.api.models import AddAudioRequest

    with pytest.raises(OutcomeUnknownError):
        client.add_audio(AddAudioRequest("0" * 24, 1))
    assert sandbox.count("add_audio") == 1


def test_nothing_sent_is_a_network_error_not_an_unknown_outcome():
    client = AkoolClient("http://127.0.0.1:9", Credentials(api_key="k" * 20), sleep=lambda s: None)
    with pytest.raises(TransportError) as caught:
        client.create_video(body())
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert "nothing was sent" in caught.value.message


@pytest.mark.parametrize("spec", ["effects:429", "effects:500", "effects:502", "effects:503", "effects:drop",
                                  "effects:html"])
def test_safe_calls_are_retried_with_backoff(sandbox, spec):
    sandbox.fault(spec + ":times=2")
    client, sleeps = make(sandbox)
    assert client.effects()
    assert sandbox.count("effects") == 3
    assert sleeps == [0.375, 0.75]  # half-jittered exponential backoff with rand() = 0.5


def test_retry_after_is_honoured(sandbox):
    sandbox.fault("results:429:retry_after=2")
    client, sleeps = make(sandbox)
    client.results(["0" * 24])
    assert sleeps == [2.0]


def test_retries_give_up_with_a_network_error(sandbox):
    sandbox.fault("delete:503:always")
    client, sleeps = make(sandbox, retry=RetryPolicy(retries=3))
    with pytest.raises(TransportError) as caught:
        client.delete(["0" * 24])
    assert caught.value.exit_code == 8 and "HTTP 503" in caught.value.message
    assert sandbox.count("delete") == 4 and len(sleeps) == 3


def test_total_retry_time_is_bounded(sandbox):
    sandbox.fault("effects:503:retry_after=5:always")
    client, sleeps = make(sandbox, retry=RetryPolicy(retries=10, max_delay=5, max_total=12))
    with pytest.raises(TransportError):
        client.effects()
    assert sum(sleeps) <= 12


def test_read_timeout_on_a_safe_call_is_retried(sandbox):
    sandbox.fault("effects:slow:seconds=0.6")
    client, sleeps = make(sandbox, timeout=0.2)
    assert client.effects()
    assert sandbox.count("effects") == 2 and len(sleeps) == 1


@pytest.mark.parametrize("code", [1003, 1008, 1009, 1101, 1102, 1200])
def test_known_business_codes_carry_a_hint(sandbox, code):
    sandbox.fault(f"effects:business:code={code}")
    client, _ = make(sandbox)
    with pytest.raises(ApiError) as caught:
        client.effects()
    assert caught.value.code == code and advice(caught.value, command)
    assert caught.value.hint is None or "akool" not in caught.value.hint  # no CLI text below the CLI
    assert caught.value.exit_code == (3 if code in (1101, 1102, 1200) else 4)


def test_unknown_business_code_is_still_clear(sandbox):
    sandbox.fault("effects:business:code=4242")
    client, _ = make(sandbox)
    with pytest.raises(ApiError) as caught:
        client.effects()
    assert "4242" in str(caught.value) and "injected" in str(caught.value)


@pytest.mark.parametrize("spec,needle", [("results:empty", "empty answer"), ("results:truncated", "malformed JSON"),
                                         ("results:nocode", "without a business code"),
                                         ("results:baddata", "'data'")])
def test_malformed_bodies_become_typed_errors(sandbox, spec, needle):
    sandbox.fault(spec)
    client, _ = make(sandbox)
    with pytest.raises(TransportError) as caught:
        client.results(["0" * 24])
    assert needle in caught.value.message


def test_unknown_status_numbers_are_tolerated(sandbox):
    client, _ = make(sandbox)
    job = client.create_video(body())
    sandbox.fault("results:badstatus")
    [seen] = client.results([job.id])
    assert seen.status == 7 and seen.status_name == "unknown(7)" and not seen.is_final


def test_unknown_fields_are_kept(sandbox):
    client, _ = make(sandbox)
    job = client.create_video(body())
    assert job.raw["team_id"] == "6805fb69e92d9edc7ca0b409" and job.raw["uid"] == 101400


def test_decode_envelope_rules():
    assert decode_envelope(200, b'{"code":1000,"msg":"OK","data":{}}', "/x")["code"] == 1000
    with pytest.raises(TransportError) as caught:
        decode_envelope(404, b"<html>nope</html>", "/x")
    assert "HTML page" in caught.value.message and not caught.value.retryable
    with pytest.raises(TransportError):
        decode_envelope(200, b'{"code": true}', "/x")
    with pytest.raises(TransportError) as caught:
        decode_envelope(503, b"", "/x", "7")
    assert caught.value.retryable and caught.value.retry_after == 7


def test_parse_retry_after_forms():
    assert parse_retry_after("3") == 3
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_downloads_send_no_credentials(sandbox):
    client, _ = make(sandbox)
    job = client.create_video(body())
    import time

    time.sleep(0.3)
    [done] = client.results([job.id])
    sandbox.reset()
    with client.open_download(done.video_url) as download:
        assert download.status == 200 and download.length == 25825
    # The download went to the video URL on its own connection, with no API credential on it.
    assert sandbox.stats()["requests"] == {"video": 1}
    [headers] = sandbox.headers("video")
    assert "x-api-key" not in headers and "authorization" not in headers


def test_download_opening_is_retried(sandbox):
    client, sleeps = make(sandbox)
    job = client.create_video(body())
    import time

    time.sleep(0.3)
    [done] = client.results([job.id])
    sandbox.fault("video:503:times=2")
    with client.open_download(done.video_url) as download:
        assert download.status == 200
    assert len(sleeps) == 2
