"""The sandbox's webhook sender: signs and encrypts callbacks as Akool's docs describe.

Deliberately its own code, not akool_cli.api.webhook's: a receiver and a sender written from
the same reading of the docs could hide a shared mistake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.request
from typing import Any, Callable


def sign(client_id: str, timestamp: str, nonce: str, data_encrypt: str) -> str:
    parts = [client_id, timestamp, nonce, data_encrypt]
    parts.sort()
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def encrypt(payload: dict[str, Any], client_id: str, client_secret: str) -> str:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    plain = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(client_secret.encode()), modes.CBC(client_id.encode())).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def callback_body(payload: dict[str, Any], client_id: str, client_secret: str,
                  now: Callable[[], float] = time.time) -> dict[str, Any]:
    data = encrypt(payload, client_id, client_secret)
    timestamp = int(now() * 1000)
    nonce = str(secrets.randbelow(9000) + 1000)
    return {"signature": sign(client_id, str(timestamp), nonce, data), "dataEncrypt": data,
            "timestamp": timestamp, "nonce": nonce}


def deliver(url: str, body: dict[str, Any], attempts: int, pause: float) -> tuple[bool, int]:
    """POST until the receiver answers 200, at most `attempts` times. Returns (delivered, tries)."""
    raw = json.dumps(body).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return True, attempt
        except (OSError, ValueError):
            pass
        time.sleep(pause)
    return False, attempts
