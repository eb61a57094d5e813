"""Akool webhook callbacks: verify the signature, check freshness and replays, decrypt the payload.

Akool POSTs {"signature", "dataEncrypt", "timestamp", "nonce"}; signature is the hex SHA-1 of
the sorted [clientId, timestamp, nonce, dataEncrypt] joined; dataEncrypt is base64 AES-CBC
(PKCS#7) with key = clientSecret (24 bytes: AES-192) and IV = clientId (16 bytes).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from akool_cli.core.errors import AkoolError, UsageError
from akool_cli.core.exit_codes import ExitCode
from akool_cli.core.install import add_package_hint

DEFAULT_TOLERANCE = 300.0
CALLBACK_FIELDS = ("signature", "dataEncrypt", "timestamp", "nonce")


class WebhookError(AkoolError):
    """A callback that must be refused. `status` is the HTTP answer a receiver gives it."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def signature(client_id: str, timestamp: str, nonce: str, data_encrypt: str) -> str:
    joined = "".join(sorted([client_id, str(timestamp), nonce, data_encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()


@functools.lru_cache(maxsize=4)  # one account's keys, asked for once a callback
def _cipher(client_id: str, client_secret: str) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        raise UsageError("webhooks need the 'cryptography' package",
                         hint="install it with: " + add_package_hint("cryptography>=42")) from None
    key, iv = client_secret.encode(), client_id.encode()
    if len(key) not in (16, 24, 32) or len(iv) != 16:
        raise UsageError("the client id must be 16 bytes and the client secret 16, 24 or 32 bytes",
                         hint="use the clientId and clientSecret from the Akool console")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def decrypt(data_encrypt: str, client_id: str, client_secret: str) -> dict[str, Any]:
    cipher = _cipher(client_id, client_secret)  # first: it explains a missing library
    from cryptography.hazmat.primitives import padding

    try:
        raw = base64.b64decode(data_encrypt, validate=True)
        decryptor = cipher.decryptor()
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        payload = json.loads(plain.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise WebhookError("cannot decrypt dataEncrypt (wrong client secret, or tampered)", 400,
                           hint="check the profile's client secret") from None
    if not isinstance(payload, dict):
        raise WebhookError("the decrypted payload is not a JSON object", 400)
    return payload


def _timestamp_seconds(value: Any) -> float:
    import math

    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number / 1000 if number > 1e11 else number  # Akool sends milliseconds


@dataclass
class ReplayGuard:
    """Remembers the callbacks seen within the tolerance window, keyed on a hash of `dataEncrypt`.

    Akool's signature is a plain SHA-1 of clientId, timestamp, nonce and dataEncrypt: no secret
    key goes into it, and the clientId is not secret. Anyone who captured one callback can re-sign
    it with a fresh timestamp and nonce. What they cannot change without the clientSecret is the
    encrypted payload, so that is what a replay is recognised by. Entries expire after twice the
    tolerance (in insertion order, so pruning is O(1) per entry) and at most `limit` are kept.
    """

    tolerance: float = DEFAULT_TOLERANCE
    limit: int = 100_000
    _seen: "OrderedDict[str, float]" = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def key(data_encrypt: str) -> str:
        return hashlib.sha256(data_encrypt.encode()).hexdigest()

    def first_time(self, data_encrypt: str, now: float) -> bool:
        key = self.key(data_encrypt)
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= 2 * self.tolerance and len(self._seen) < self.limit:
                    break
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def forget(self, data_encrypt: str) -> None:
        """Undo first_time() for a callback that could not be handled, so its resend is accepted."""
        with self._lock:
            self._seen.pop(self.key(data_encrypt), None)


@dataclass
class Callback:
    event: dict[str, Any]
    replay: bool
    nonce: str
    timestamp: str
    data_encrypt: str = ""


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebhookError("the callback body is not JSON", 400) from None
    if not isinstance(body, dict) or not all(isinstance(body.get(k), (str, int)) and not isinstance(body.get(k), bool)
                                              for k in CALLBACK_FIELDS):
        raise WebhookError("the callback body lacks " + ", ".join(CALLBACK_FIELDS), 400)
    return body


def open_callback(body: dict[str, Any], client_id: str, client_secret: str, *, now: float | None,
                  guard: ReplayGuard | None) -> Callback:
    """Verify and decrypt one callback. `now` None skips the freshness check (offline decrypt)."""
    timestamp, nonce, data = str(body["timestamp"]), str(body["nonce"]), str(body["dataEncrypt"])
    expected = signature(client_id, timestamp, nonce, data)
    if not hmac.compare_digest(expected, str(body["signature"]).lower()):
        raise WebhookError("bad signature", 401, hint="is the client id right, and the body untouched?")
    if now is not None:
        tolerance = guard.tolerance if guard else DEFAULT_TOLERANCE
        try:
            age = now - _timestamp_seconds(timestamp)
        except ValueError:
            raise WebhookError("the timestamp is not a number", 400) from None
        if abs(age) > tolerance:
            raise WebhookError(f"stale callback: timestamp is {age:.0f} s old (tolerance {tolerance:g} s)", 401)
    replay = guard is not None and now is not None and not guard.first_time(data, now)
    try:
        event = decrypt(data, client_id, client_secret)
    except WebhookError:
        if guard is not None and not replay:
            guard.forget(data)
        raise
    return Callback(event, replay, nonce, timestamp, data)
