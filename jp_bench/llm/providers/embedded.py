"""The offline judge: the packaged Gemma 3 270M behind a llama.cpp server started on first use.

No key, no endpoint of its own (the server's address is chosen when it starts), no Batch API.
"""

from __future__ import annotations

from typing import Any

from jp_bench.llm.providers import ProviderDescription
from jp_bench.llm.types import ModelSpec, Provider


def make_client(spec: ModelSpec, **options: Any) -> Provider:
    from jp_bench.llm.embedded_provider import EmbeddedProvider

    return EmbeddedProvider(spec, **options)


PROVIDER = ProviderDescription(name="embedded", make_client=make_client, sdk_modules=("openai", "httpx2"))
