"""The credentials a request is signed with: a small module of its own, because every command's start-up
reads them (the API objects in models.py cost milliseconds that `akool cost` should not pay)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Credentials:
    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None
    source: str = "none"  # "env", "file", "sandbox" or "none"

    @property
    def method(self) -> str | None:
        if self.api_key:
            return "api-key"
        if self.client_id and self.client_secret:
            return "client-credentials"
        return None

    def secrets(self) -> list[str]:
        return [s for s in (self.api_key, self.client_secret, self.token) if s]
