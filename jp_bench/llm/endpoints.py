"""Which endpoint a model call goes to: one rule for every provider, so the store key can name it.

``--base-url`` (or ``judge_base_url``) wins, then the SDK's own variable (``OPENAI_BASE_URL``,
``ANTHROPIC_BASE_URL``), then the judge YAML's ``base_url``, then the vendor's public endpoint.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "openai-compatible": "OPENAI_BASE_URL",
                "anthropic": "ANTHROPIC_BASE_URL"}
VENDOR_BASE_URL = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


def resolve_base_url(provider: str, override: str | None, configured: str | None) -> str | None:
    """The base URL a call of ``provider`` will use (None: the provider decides, e.g. the embedded one)."""
    variable = BASE_URL_ENV.get(provider)
    from_env = os.environ.get(variable) if variable else None
    for source, url in (("--base-url", override), (f"${variable}", from_env)):
        if url:
            _check_scheme(source, url)
            return url
    return configured or VENDOR_BASE_URL.get(provider)  # a judge YAML's base_url is checked when it is read


def _check_scheme(source: str, url: str) -> None:
    """Only http(s) is refused at once, not retried: the rule of jp_bench.llm.limits.check_base_url."""
    from jp_bench.errors import JpBenchError
    from jp_bench.llm.limits import check_base_url

    try:
        check_base_url(url)
    except ValueError as exc:
        raise JpBenchError(f"{source}: {exc}") from None


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
