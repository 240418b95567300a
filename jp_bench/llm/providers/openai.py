"""OpenAI's own API (api.openai.com): chat completions and the Batch API, through the official SDK."""

from __future__ import annotations

from typing import Any

from jp_bench.llm.providers import ProviderDescription
from jp_bench.llm.types import ModelSpec, Provider


def make_client(spec: ModelSpec, **options: Any) -> Provider:
    from jp_bench.llm.openai_provider import OpenAIProvider

    return OpenAIProvider(spec, **options)


def make_batches(client: Any) -> Any:
    from jp_bench.llm.batch_vendors import OpenAIBatches

    return OpenAIBatches(client)


PROVIDER = ProviderDescription(
    name="openai",
    make_client=make_client,
    key_env="OPENAI_API_KEY",
    key_required=True,
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
    checks_access=True,
    make_batches=make_batches,
    sdk_modules=("openai", "httpx2"),
)
