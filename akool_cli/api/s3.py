"""Local files to a private S3-compatible bucket, handed to Akool as presigned GET links.

boto3 (the `s3` extra) signs the requests and the links and reads the standard AWS credential chain;
it is imported only when something is uploaded, listed or pruned. Objects are named by their
content's SHA-256 under `upload.prefix`, so a file is stored once and reused (a HEAD first); every
use gets a fresh link valid for `upload.expires` seconds. Nothing here prints or stores a secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from akool_cli.core.errors import AkoolError, AuthError, TransportError, UsageError

if TYPE_CHECKING:
    from akool_cli.api.uploads import LocalFile

S3BACKEND_SPEC = "boto3>=1.34"
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "mp3": "audio/mpeg",
                 "wav": "audio/wav", "m4a": "audio/mp4", "ogg": "audio/ogg", "flac": "audio/flac"}
EXTENSIONS = {"jpeg": "jpg"}


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    expires: int  # seconds a presigned link works
    aws_profile: str | None = None

    @property
    def where(self) -> str:
        """For messages: the bucket and endpoint, never a credential."""
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")


@dataclass(frozen=True)
class StoredObject:
    """What the history keeps of an object this tool put in the bucket (`uploads list`, `uploads prune`)."""

    sha256: str
    bucket: str
    endpoint: str  # "" for AWS itself
    key: str
    size: int
    kind: str
    source: str  # the local file's name, for people
    reused: bool  # it was already there (same content): nothing was sent
    url: str
    link_expires_at: float


def object_key(prefix: str, sha256: str, kind: str) -> str:
    return f"{prefix}{sha256}.{EXTENSIONS.get(kind, kind)}"


def file_sha256(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class S3Uploader:
    """The `s3` backend of `upload.backend`. `record` gets each stored (or reused) object, so the history
    knows which objects this tool owns and which job used which."""

    def __init__(self, settings: S3Settings, *, clock: Callable[[], float],
                 record: Callable[[StoredObject], None] | None = None, install_hint: str = "") -> None:
        self.settings = settings
        self.clock = clock
        self.record = record
        self.install_hint = install_hint
        self._s3: Any = None

    # ------------------------------------------------------------ the client

    def client(self) -> Any:
        if self._s3 is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise UsageError("upload.backend is s3 but boto3 (the s3 extra) is not installed",
                                 hint=f"install it: {self.install_hint or 'pip install boto3'}") from None
            try:
                session = boto3.Session(profile_name=self.settings.aws_profile) if self.settings.aws_profile \
                    else boto3.Session()
            except Exception as exc:  # noqa: BLE001 - botocore's ProfileNotFound and kin
                raise explain(exc, self.settings) from None
            config = Config(signature_version="s3v4", connect_timeout=10, read_timeout=60,
                            retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "auto"})
            self._s3 = session.client("s3", endpoint_url=self.settings.endpoint_url,
                                      region_name=self.settings.region, config=config)
        return self._s3

    def _call(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except AkoolError:
            raise
        except Exception as exc:  # noqa: BLE001 - every botocore error becomes one line with a fix
            raise explain(exc, self.settings) from None

    def ready(self) -> None:
        """Before anything is asked or paid: the bucket is named and boto3 is there (nothing is sent)."""
        if not self.settings.bucket:
            raise UsageError("upload.backend is s3 but no bucket is set",
                             hint="set it: akool config set upload.bucket NAME")
        self.client()  # imports boto3 (or says how to install it) and reads the credential chain; sends nothing

    def describe(self) -> str:
        hours = self.settings.expires / 3600
        return f"the s3 backend: private objects in {self.settings.where}, presigned links valid {hours:g} h"

    # ------------------------------------------------------------ what the tool does

    def check(self) -> None:
        """One harmless call: is the bucket there, and may these credentials use it?"""
        self._call(lambda: self.client().head_bucket(Bucket=self.settings.bucket))

    def upload(self, file: "LocalFile") -> str:
        return self.store(file).url

    def store(self, file: "LocalFile") -> StoredObject:
        sha = file_sha256(file.path)
        key = object_key(self.settings.prefix, sha, file.kind)
        reused = self._exists(key)
        if not reused:
            def put() -> Any:
                with open(file.path, "rb") as body:
                    return self.client().put_object(
                        Bucket=self.settings.bucket, Key=key, Body=body,
                        ContentType=CONTENT_TYPES.get(file.kind, "application/octet-stream"),
                        Metadata={"akool-cli-sha256": sha})
            self._call(put)
        stored = StoredObject(sha, self.settings.bucket, self.settings.endpoint_url or "", key, file.size, file.kind,
                              file.path.name, reused, self.link(key), self.clock() + self.settings.expires)
        if self.record is not None:
            self.record(stored)
        return stored

    def link(self, key: str) -> str:
        """A fresh presigned GET link: a reused object gets the full `upload.expires` again."""
        return str(self._call(lambda: self.client().generate_presigned_url(
            "get_object", Params={"Bucket": self.settings.bucket, "Key": key}, ExpiresIn=self.settings.expires)))

    def delete(self, key: str) -> None:
        if not key.startswith(self.settings.prefix):  # never outside the folder this tool owns
            raise UsageError(f"refusing to delete {key!r}: it is outside upload.prefix {self.settings.prefix!r}")
        self._call(lambda: self.client().delete_object(Bucket=self.settings.bucket, Key=key))

    def _exists(self, key: str) -> bool:
        try:
            self.client().head_object(Bucket=self.settings.bucket, Key=key)
            return True
        except AkoolError:
            raise
        except Exception as exc:  # noqa: BLE001
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise explain(exc, self.settings) from None


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                   or "")
    return ""


def explain(exc: BaseException, settings: S3Settings) -> AkoolError:
    """A botocore error as one line with its fix. Names the bucket and endpoint, never a key or secret."""
    name = type(exc).__name__
    code = _code(exc)
    where = settings.where
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return AuthError(f"no AWS credentials found for {where}",
                         hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run aws configure, or name a "
                              "profile: akool config set upload.aws_profile NAME")
    if name == "ProfileNotFound":
        return UsageError(f"the AWS profile {settings.aws_profile!r} does not exist",
                          hint="check ~/.aws/config, or: akool config unset upload.aws_profile")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        return TransportError(f"could not reach the storage endpoint for {where}",
                              hint="check upload.endpoint_url and the network", retryable=False)
    if code in ("RequestTimeTooSkewed", "RequestExpired"):
        return AuthError(f"the storage refused the request: this machine's clock is off ({code})",
                         hint="set the clock right (e.g. timedatectl set-ntp true) and try again")
    if code in ("NoSuchBucket",) or (code == "404" and name == "ClientError"):
        return UsageError(f"the bucket {settings.bucket!r} does not exist at {settings.endpoint_url or 'AWS'}",
                          hint="create it (private), or fix it: akool config set upload.bucket NAME")
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"):
        return AuthError(f"access denied to {where} ({code})",
                         hint="the credentials need s3:PutObject, s3:GetObject, s3:DeleteObject and s3:ListBucket "
                              "on the bucket; check them, or upload.aws_profile")
    if name == "ParamValidationError":
        return UsageError(f"the upload settings are incomplete for {where}", hint="see: akool config list")
    from akool_cli.core.text import clean

    import re

    # An access key id may appear in a storage's message; a secret never should, but nothing key-like is kept.
    detail = re.sub(r"\b(AKIA|ASIA)[A-Z0-9]{12,}\b|[A-Za-z0-9/+=]{32,}", "****", clean(str(exc)))[:200]
    return TransportError(f"the storage answered with an error for {where}: {detail}",
                          hint="try again; check upload.endpoint_url and upload.region", retryable=False)
