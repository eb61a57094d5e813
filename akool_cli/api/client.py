"""The Akool HTTP client: auth, envelope decoding, timeouts and retries. It never prints."""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from akool_cli import __version__
from akool_cli.api.credentials import Credentials
from akool_cli.api.models import (
    AddAudioRequest,
    AiModel,
    BatchItemError,
    BatchRequest,
    BatchResult,
    CreateRequest,
    DeleteResult,
    Effect,
    Job,
    Refusal,
)
from akool_cli.api.net import proxy_for, ssl_context
from akool_cli.core.errors import AkoolError, ApiAuthError, ApiError, AuthError, OutcomeUnknownError, TransportError
from akool_cli.core.validation import is_job_id

T = TypeVar("T")
USER_AGENT = f"akool-cli/{__version__}"

PATH_TOKEN = "/api/open/v3/getToken"
PATH_CREATE = "/api/open/v4/image2Video/createBySourcePrompt"
PATH_RESULTS = "/api/open/v4/image2Video/resultsByIds"
PATH_EFFECTS = "/api/open/v4/image2Video/effects"
PATH_ADD_AUDIO = "/api/open/v4/image2Video/updateVideoAudio"
PATH_DELETE = "/api/open/v4/image2Video/delbyids"
PATH_SANDBOX_UPLOAD = "/_sandbox/upload"
PATH_CREATE_BATCH = "/api/open/v4/image2Video/createBySourcePrompt/batch"
PATH_MODELS = "/api/open/v4/aigModel/list"
PATH_BALANCE = "/api/open/v3/faceswap/quota/info"
IMAGE_TO_VIDEO_TYPE = 1501

SUCCESS = 1000
AUTH_CODES = frozenset({1101, 1102, 1109, 1200})
SECRET_HEADERS = frozenset({"x-api-key", "authorization"})
# The API's answers are small JSON objects; anything bigger is not the API (and could exhaust memory).
MAX_BODY = 16 * 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 30.0

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        # Full jitter: spreads retries of many clients hitting the same outage.
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return ceiling / 2 + rand() * ceiling / 2


@dataclass(frozen=True)
class RequestLog:
    method: str
    url: str
    status: int | None
    elapsed_ms: float
    attempt: int
    headers: dict[str, str]
    error: str | None = None


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def api_error(code: int, msg: str) -> ApiError:
    cls = ApiAuthError if code in AUTH_CODES else ApiError
    return cls(code, msg or "(no message)")  # the CLI's hint table (output.hints) knows the codes


def decode_envelope(status: int, body: bytes, where: str, retry_after: str | None = None) -> dict[str, Any]:
    """Turn one HTTP answer into the API's envelope, or raise the typed error it deserves."""
    if status == 429 or status >= 500:
        label = "rate limited (HTTP 429)" if status == 429 else f"server error (HTTP {status})"
        raise TransportError(f"{label} from {where}", hint="the service is busy or failing; try again later",
                             retryable=True, retry_after=parse_retry_after(retry_after))
    text = body.strip()
    if not text:
        raise TransportError(f"empty answer (HTTP {status}) from {where}",
                             hint="the service answered nothing; check base_url and try again")
    try:
        envelope = json.loads(text)
    except RecursionError:
        raise TransportError(f"JSON nested too deeply in the answer (HTTP {status}) from {where}",
                             hint="the service answered something unexpected; check base_url") from None
    except (ValueError, UnicodeDecodeError):
        looks = "an HTML page" if text[:1] == b"<" else "malformed JSON"
        raise TransportError(f"{looks} instead of the API's JSON (HTTP {status}) from {where}",
                             reason="not-the-api") from None
    if not isinstance(envelope, dict) or isinstance(envelope.get("code"), bool) \
            or not isinstance(envelope.get("code"), int):
        raise TransportError(f"answer without a business code (HTTP {status}) from {where}",
                             hint="the answer is not the API's envelope; check base_url")
    code = envelope["code"]
    if code != SUCCESS:
        msg = envelope.get("msg")
        raise api_error(code, msg if isinstance(msg, str) else "")
    if status >= 400:
        raise TransportError(f"HTTP {status} from {where}", hint="check base_url and try again")
    return envelope


def _data(envelope: dict[str, Any], where: str, kind: type = dict) -> Any:
    data = envelope.get("data")
    if not isinstance(data, kind):
        raise TransportError(f"'data' of the answer from {where} is {type(data).__name__}, "
                             f"expected {'an object' if kind is dict else 'a list'}",
                             hint="the service answered something unexpected; try again later")
    return data


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**9 else None


def _same_or_new(known: Mapping[str, Job], item: dict[str, Any]) -> Job:
    job_id = item.get("_id")
    last = known.get(job_id) if type(job_id) is str else None  # an odd id (a list, a dict) is parsed, not looked up
    return last if last is not None and last.raw == item else Job.from_api(item)


def _list_of_dicts(value: Any, field: str, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TransportError(f"'{field}' in the answer from {where} is not a list of objects",
                             hint="the service answered something unexpected; try again later")
    return value


class AkoolClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        on_request: Callable[[RequestLog], None] | None = None,
        on_token: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
        deadline: float = 60.0,
        max_body: int = MAX_BODY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.retry = retry
        self._sleep = sleep
        self._rand = rand
        self._on_request = on_request
        self._on_token = on_token
        self._mint_failure: AkoolError | None = None
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.deadline = deadline
        # The command's own end (monotonic): safe requests and their retries stop there; a paid request
        # is never cut short by it (it has its own request deadline and is never resent).
        self.ends_at: float | None = None
        self.max_body = max_body
        self.env: Mapping[str, str] = env if env is not None else {}
        # Proxy and CAs come from net (the same for downloads), not from httpx's own reading of os.environ.
        self._http = httpx.Client(timeout=self.timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False,
                                  trust_env=False, proxy=proxy_for(self.base_url, self.env),
                                  verify=ssl_context(self.env))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AkoolClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ endpoints

    def create_video(self, request: CreateRequest) -> Job:
        envelope = self._call("POST", PATH_CREATE, request.to_body(), idempotent=False)
        return self._job(envelope, PATH_CREATE)

    def add_audio(self, request: AddAudioRequest) -> Job:
        envelope = self._call("POST", PATH_ADD_AUDIO, request.to_body(), idempotent=False)
        return self._job(envelope, PATH_ADD_AUDIO)

    def create_batch(self, request: "BatchRequest") -> "BatchResult":
        """One paid call, partial success inside: every job of successList exists."""
        envelope = self._call("POST", PATH_CREATE_BATCH, request.to_body(), idempotent=False)
        try:
            data = _data(envelope, PATH_CREATE_BATCH)
            success = _list_of_dicts(data.get("successList") or [], "successList", PATH_CREATE_BATCH)
            errors = data.get("errorList") or []
            errors = errors if isinstance(errors, list) else []
            jobs = [Job.from_api(item) for item in success]
        except (TransportError, ValueError, TypeError, RecursionError) as exc:
            raise OutcomeUnknownError(f"the service accepted the request to {PATH_CREATE_BATCH} but its answer is "
                                      f"unusable ({getattr(exc, 'message', type(exc).__name__)})",
                                      reason="created-unknown") from None
        bad = [job for job in jobs if not is_job_id(job.id)]
        if bad:
            raise OutcomeUnknownError(f"the answer from {PATH_CREATE_BATCH} has {len(bad)} invalid job id(s)",
                                      reason="created-unknown")
        items = []
        for item in errors:
            item = item if isinstance(item, dict) else {}
            msg = item.get("msg") or item.get("message") or item.get("error") or "failed"
            items.append(BatchItemError(_int_or_none(item.get("index")), _int_or_none(item.get("code")), str(msg)))
        return BatchResult(jobs, items)

    def models(self) -> list[AiModel]:
        envelope = self._call("GET", f"{PATH_MODELS}?types[]={IMAGE_TO_VIDEO_TYPE}", None, idempotent=True)
        data = envelope.get("data")
        if isinstance(data, dict):  # tolerate {"result": [...]}, as effects answer
            data = data.get("result") or data.get("list")
        models = [AiModel.from_api(item) for item in _list_of_dicts(data, "data", PATH_MODELS)]
        return [m for m in models if m.value]

    def balance(self) -> float:
        envelope = self._call("GET", PATH_BALANCE, None, idempotent=True)
        credit = _data(envelope, PATH_BALANCE).get("credit")
        if isinstance(credit, bool) or not isinstance(credit, (int, float)) or credit != credit \
                or abs(credit) > 1e15:
            raise TransportError(f"no credit balance in the answer from {PATH_BALANCE}",
                                 hint="the service answered something unexpected; try again later")
        return float(credit)

    def results(self, ids: list[str], known: Mapping[str, Job] | None = None) -> list[Job]:
        """The jobs the service lists for `ids`. `known`: the jobs of the last answer (a poller's); a job
        whose answer is the same, field for field, is that same Job again, not parsed anew."""
        envelope = self._call("POST", PATH_RESULTS, {"_ids": ",".join(ids)}, idempotent=True)
        data = _data(envelope, PATH_RESULTS)
        items = _list_of_dicts(data.get("result"), "result", PATH_RESULTS)
        if known:
            jobs = [_same_or_new(known, item) for item in items]
        else:
            jobs = [Job.from_api(item) for item in items]
        # An id that is not one can name no job we asked for; it must never reach a path or SQL.
        return [job for job in jobs if is_job_id(job.id)]

    def effects(self) -> list[Effect]:
        envelope = self._call("GET", PATH_EFFECTS, None, idempotent=True)
        data = _data(envelope, PATH_EFFECTS)
        return [Effect.from_api(item) for item in _list_of_dicts(data.get("result"), "result", PATH_EFFECTS)]

    def delete(self, ids: list[str]) -> DeleteResult:
        envelope = self._call("POST", PATH_DELETE, {"_ids": ",".join(ids)}, idempotent=True)
        data = _data(envelope, PATH_DELETE)
        success = data.get("successIds") or []
        refused = _list_of_dicts(data.get("noPermissionItems") or [], "noPermissionItems", PATH_DELETE)
        if not isinstance(success, list):
            raise TransportError(f"'successIds' in the answer from {PATH_DELETE} is not a list")
        return DeleteResult(
            success_ids=[str(i) for i in success],
            refused=[Refusal(str(r.get("_id", "")), str(r.get("msg", ""))) for r in refused],
            raw=data,
        )

    def get_token(self, client_id: str, client_secret: str) -> str:
        envelope = self._send_with_retries("POST", PATH_TOKEN,
                                           {"clientId": client_id, "clientSecret": client_secret},
                                           idempotent=True, authenticated=False)
        token = envelope.get("token")
        if not isinstance(token, str) or not token:
            raise TransportError(f"no token in the answer from {PATH_TOKEN}")
        return token

    def upload_to_sandbox(self, filename: str, content: bytes) -> str:
        """Sandbox-only: store a local file on the sandbox and get its public URL back."""
        envelope = self._call("POST", PATH_SANDBOX_UPLOAD, content, idempotent=True,
                              extra_headers={"X-Filename": filename, "Content-Type": "application/octet-stream"})
        url = _data(envelope, PATH_SANDBOX_UPLOAD).get("url")
        if not isinstance(url, str):
            raise TransportError(f"no url in the answer from {PATH_SANDBOX_UPLOAD}")
        return url

    def open_download(self, url: str, redirects: int = MAX_REDIRECTS) -> "Download":
        """GET a generated file, body unread. No credentials are sent: video URLs live on a CDN.

        The body is read with the standard library's http.client: its readinto() into one reused
        buffer runs several times faster than httpx's chunk iterator on large files, and a video
        can be gigabytes. Proxy and CAs come from akool_cli.api.net, as for API calls. Only opening is
        retried; a drop mid-body is the caller's to report. What is accepted: at most `redirects`
        redirects, never from https to http, and a 2xx answer that is not a web page.
        """
        def attempt(number: int) -> Download:
            target = url
            for hop in range(redirects + 1):
                started = time.monotonic()
                download = Download.open(target, self.timeout.read or 30.0, self.timeout.connect or 10.0, self.env)
                self._log("GET", target, download.status, started, number, {})
                if download.status not in (301, 302, 303, 307, 308):
                    break
                download.close()
                if not download.location:
                    raise TransportError(f"redirect (HTTP {download.status}) without a Location downloading {url}",
                                         hint="the file server answered oddly; try again later")
                following = urljoin(target, download.location)
                if urlsplit(target).scheme == "https" and urlsplit(following).scheme != "https":
                    raise TransportError(f"refused a redirect from https to {urlsplit(following).scheme} "
                                         f"downloading {url}", hint="the file server tried to drop encryption")
                if hop == redirects:
                    raise TransportError(f"more than {redirects} redirects downloading {url}",
                                         hint="the file server is redirecting in a loop; try again later")
                target = following
            if download.status < 300:
                kind = (download.content_type or "").split(";")[0].strip().lower()
                if kind.startswith("text/") or kind in ("application/json", "application/xhtml+xml"):
                    download.close()
                    raise TransportError(f"the file server sent {kind}, not a video, for {url}",
                                         reason="file-gone")
                return download
            download.close()
            retryable = download.status == 429 or download.status >= 500
            raise TransportError(
                f"HTTP {download.status} downloading {url}",
                hint="try again later" if retryable else "the file may have expired (7 days) or been deleted",
                retryable=retryable,
                retry_after=parse_retry_after(download.retry_after),
            )

        return self._with_retries(attempt)

    def limit(self, seconds: float | None) -> None:
        """The command's time from now (None: no overall limit). Retries and backoff fit inside it."""
        self.ends_at = None if seconds is None else time.monotonic() + seconds

    def _remaining(self) -> float | None:
        return None if self.ends_at is None else self.ends_at - time.monotonic()

    def _with_retries(self, attempt: Callable[[int], T]) -> T:
        number = 0
        slept = 0.0
        while True:
            try:
                return attempt(number)
            except TransportError as exc:
                if not exc.retryable or number >= self.retry.retries:
                    raise
                delay = self._delay(exc, number)
                left = self._remaining()
                if slept + delay > self.retry.max_total or (left is not None and delay >= left):
                    raise
                self._sleep(delay)
                slept += delay
                number += 1

    # ------------------------------------------------------------ machinery

    def _job(self, envelope: dict[str, Any], where: str) -> Job:
        """The job a paid request created. Code 1000 means it exists: an answer we cannot use
        leaves its id unknown, which is an unknown outcome (exit 9), never "try again"."""
        try:
            data = _data(envelope, where)
            job = Job.from_api(data)
        except (TransportError, ValueError, TypeError, RecursionError) as exc:
            raise OutcomeUnknownError(f"the service accepted the request to {where} but its answer is unusable "
                                      f"({getattr(exc, 'message', type(exc).__name__)})",
                                      reason="created-unknown") from None
        if not is_job_id(job.id):
            shown = "no job _id" if not job.id else "an invalid job _id"
            raise OutcomeUnknownError(f"the service accepted the request to {where} but its answer has {shown}",
                                      reason="created-unknown")
        return job

    def _call(self, method: str, path: str, body: Any, *, idempotent: bool,
              extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
        creds = self.credentials
        if creds.method is None:
            raise AuthError("no credentials", reason="no-credentials")
        try:
            return self._send_with_retries(method, path, body, idempotent=idempotent, extra_headers=extra_headers)
        except ApiError as exc:
            # A rejected token means nothing was done, so one retry is safe even for create.
            if exc.code != 1101 or creds.method != "client-credentials":
                raise
        self._mint_token()
        return self._send_with_retries(method, path, body, idempotent=idempotent, extra_headers=extra_headers)

    def _mint_token(self) -> str:
        creds = self.credentials
        assert creds.client_id and creds.client_secret
        if self._mint_failure is not None:
            raise self._mint_failure
        try:
            token = self.get_token(creds.client_id, creds.client_secret)
        except ApiError as exc:
            self._mint_failure = ApiAuthError(exc.code, f"could not get a token: {exc.msg}",
                                              reason="bad-client-credentials")
            raise self._mint_failure from None
        except TransportError as exc:
            # get_token has had its own retries: a caller's retry loop must not multiply them.
            self._mint_failure = TransportError(f"could not get a token: {exc.message}", exc.hint, retryable=False,
                                                sent=exc.sent)
            raise self._mint_failure from None
        creds.token = token
        if self._on_token:
            self._on_token(token)
        return token

    def _auth_headers(self) -> dict[str, str]:
        creds = self.credentials
        if creds.api_key:
            return {"x-api-key": creds.api_key}
        if not creds.token:
            self._mint_token()
        return {"Authorization": f"Bearer {creds.token}"}

    def _send_with_retries(self, method: str, path: str, body: Any, *, idempotent: bool,
                           authenticated: bool = True,
                           extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
        def headers() -> dict[str, str]:
            found = self._auth_headers() if authenticated else {}
            found.update(extra_headers or {})
            return found

        if idempotent:
            return self._with_retries(lambda number: self._send_once(method, path, body, headers(), number,
                                                                     bounded=True))
        # Minting a token happens first, on its own: its failures say nothing about the paid request.
        ready = headers()
        try:
            return self._send_once(method, path, body, ready, 0)
        except TransportError as exc:
            raise self._unknown_outcome(exc, path) from None

    def _delay(self, exc: TransportError, attempt: int) -> float:
        if exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_delay)
        return self.retry.backoff(attempt, self._rand)

    @staticmethod
    def _unknown_outcome(exc: TransportError, path: str) -> Exception:
        if not exc.sent:
            return TransportError(f"{exc.message}; nothing was sent, so no job was created",
                                  hint="check your network and base_url, then run the command again", sent=False)
        return OutcomeUnknownError(
            f"{exc.message}; the request may have reached the server, so the job may or may not exist "
            "and it was NOT sent again",
            reason="created-unknown",
        )

    def _send_once(self, method: str, path: str, body: Any, headers: dict[str, str], attempt: int,
                   bounded: bool = False) -> dict[str, Any]:
        """One request. `bounded` (safe requests only): cut short by the command's own end."""
        url = self.base_url + path
        started = time.monotonic()
        payload: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
        limit = self.deadline
        left = self._remaining() if bounded else None
        if left is not None:
            if left <= 0:
                raise TransportError(f"the command's time ran out before {path} (--timeout, or command_deadline)",
                                     hint="raise --timeout or command_deadline, or try again later", sent=False)
            limit = min(limit, left)
            payload["timeout"] = httpx.Timeout(min(self.timeout.read or left, left),
                                               connect=min(self.timeout.connect or left, left))
        try:
            with self._http.stream(method, url, headers=headers, **payload) as response:
                content = self._read_bounded(response, path, started, limit)
        except httpx.HTTPError as exc:
            error = self._transport_error(exc, path)
            self._log(method, url, None, started, attempt, headers, error.message)
            raise error from None
        except TransportError as error:
            self._log(method, url, None, started, attempt, headers, error.message)
            raise
        self._log(method, url, response.status_code, started, attempt, headers)
        return decode_envelope(response.status_code, content, path, response.headers.get("retry-after"))

    def _read_bounded(self, response: httpx.Response, where: str, started: float, limit: float) -> bytes:
        """The body, read as it streams in: never more than max_body bytes, never past the deadline
        (a server dripping a byte a second defeats a per-read timeout, not this)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise TransportError(f"the answer from {where} is {int(declared) / 1048576:.0f} MiB, over the "
                                 f"{self.max_body // 1048576} MiB limit", hint="check base_url; this is not the API")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_body:
                raise TransportError(f"the answer from {where} is over the {self.max_body // 1048576} MiB limit",
                                     hint="check base_url; this is not the API")
            if time.monotonic() - started > limit:
                what = "request_deadline" if limit >= self.deadline else "the command's time: --timeout or command_deadline"
                raise TransportError(f"the answer from {where} took over {limit:g} s ({what})",
                                     hint="the service is too slow; try again later", retryable=True)
            chunks.append(chunk)
        return b"".join(chunks)

    def _transport_error(self, exc: httpx.HTTPError, where: str) -> TransportError:
        host = urlsplit(self.base_url).netloc
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return TransportError(f"cannot connect to {host} ({type(exc).__name__})",
                                  reason="cannot-connect",
                                  retryable=True, sent=False)
        if isinstance(exc, httpx.TimeoutException):
            return TransportError(f"timed out waiting for {where} ({self.timeout.read:g} s)",
                                  reason="timeout",
                                  retryable=True)
        return TransportError(f"connection to {host} broke during {where} ({type(exc).__name__})",
                              hint="try again; check your network", retryable=True)

    def _log(self, method: str, url: str, status: int | None, started: float, attempt: int,
             headers: dict[str, str], error: str | None = None) -> None:
        if self._on_request:
            elapsed = (time.monotonic() - started) * 1000
            self._on_request(RequestLog(method, url, status, elapsed, attempt, redact_headers(headers), error))


class Download:
    """An open HTTP response whose body is read straight into the caller's buffer."""

    def __init__(self, conn: Any, response: Any, url: str) -> None:
        self._conn = conn
        self._response = response
        self.url = url
        self.status: int = response.status
        self.location: str | None = response.getheader("Location")
        self.retry_after: str | None = response.getheader("Retry-After")
        self.content_type: str | None = response.getheader("Content-Type")
        length = response.getheader("Content-Length")
        self.length: int | None = int(length) if length and length.isdigit() else None

    @classmethod
    def open(cls, url: str, read_timeout: float, connect_timeout: float,
             env: Mapping[str, str] | None = None) -> "Download":
        import http.client
        import socket

        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise TransportError(f"cannot download {url!r}: not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"cannot download {url!r}: not an http(s) URL")
        env = env or {}
        proxy = proxy_for(url, env)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if proxy:
            via = urlsplit(proxy)
            if parts.scheme == "https":  # a CONNECT tunnel: the proxy sees only the host name
                conn = http.client.HTTPSConnection(via.hostname or "", via.port or 80, timeout=connect_timeout,
                                                   context=ssl_context(env))
                conn.set_tunnel(parts.hostname, port or 443)
            else:  # plain http through a proxy: the request line carries the absolute URL
                conn = http.client.HTTPConnection(via.hostname or "", via.port or 80, timeout=connect_timeout)
                path = url
        elif parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, port, timeout=connect_timeout, context=ssl_context(env))
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=connect_timeout)
        try:
            conn.connect()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise TransportError(f"cannot connect to {parts.netloc} ({type(exc).__name__})",
                                 hint="check your network", retryable=True, sent=False) from None
        try:
            conn.sock.settimeout(read_timeout)
            conn.request("GET", path, headers={"User-Agent": USER_AGENT})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            label = "timed out" if isinstance(exc, socket.timeout) else f"broke ({type(exc).__name__})"
            raise TransportError(f"download of {url} {label}", hint="try again later", retryable=True) from None
        return cls(conn, response, url)

    def readinto(self, buffer: memoryview) -> int:
        import http.client

        try:
            return self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"download of {self.url} broke ({type(exc).__name__})",
                                 hint="try the download again") from None

    def close(self) -> None:
        self._response.close()
        self._conn.close()

    def __enter__(self) -> "Download":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
