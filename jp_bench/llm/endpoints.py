"""A call's endpoint as it goes into its identity (the store key) and into files people publish.

Which base URL a provider's call goes to is :func:`jp_bench.llm.registry.resolve_base_url`.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def endpoint_of(base_url: str | None) -> str | None:
    """The endpoint as it goes into a call's identity: scheme, host, port and path, no credentials."""
    if not base_url:
        return None
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def endpoint_host(base_url: str | None) -> str | None:
    """The host (and port) alone, for files people publish."""
    if not base_url:
        return None
    parts = urlsplit(base_url.strip())
    return f"{parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else None
