"""One answer to "which proxy, which CAs" for every HTTP request: API calls and downloads alike.

httpx would read the environment by itself, and http.client (downloads) not at all; a paid job
whose video cannot be fetched behind the same proxy its create went through is a lost job. So
both ask here, with the environment the command was given (tests inject theirs).
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Mapping
from urllib.parse import urlsplit


def proxy_for(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy URL for `url` from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (either case), or None when
    NO_PROXY covers the host."""
    import urllib.request

    parts = urlsplit(url)
    lowered = {k.lower(): v for k, v in env.items() if k.lower().endswith("_proxy") and v}
    proxy = lowered.get(f"{parts.scheme}_proxy") or lowered.get("all_proxy")
    if not proxy or not parts.hostname:
        return None
    if "no_proxy" in lowered:
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        bypass = getattr(urllib.request, "proxy_bypass_environment")  # undocumented, present since 2.x
        if bypass(host, {"no": lowered["no_proxy"]}):
            return None
    return proxy if "://" in proxy else f"http://{proxy}"


@lru_cache(maxsize=4)
def _context(cafile: str | None) -> ssl.SSLContext:
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    import certifi  # httpx's own default: the same CAs for both stacks

    return ssl.create_default_context(cafile=certifi.where())


def ssl_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """SSL_CERT_FILE when set (as httpx and curl honour it), else certifi's bundle."""
    return _context(env.get("SSL_CERT_FILE") or None)
