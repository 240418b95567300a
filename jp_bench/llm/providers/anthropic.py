"""Anthropic's Messages API and Message Batches, through the official SDK.

Requests carry no temperature: the API version the SDK speaks answers 400 to any sampling parameter.
"""

from __future__ import annotations

from typing import Any

from jp_bench.llm.providers import ProviderDescription
from jp_bench.llm.types import ModelSpec, Provider


def make_client(spec: ModelSpec, **options: Any) -> Provider:
    from jp_bench.llm.anthropic_provider import AnthropicProvider

    return AnthropicProvider(spec, **options)


def make_batches(client: Any) -> Any:
    from jp_bench.llm.batch_vendors import AnthropicBatches

    return AnthropicBatches(client)


PROVIDER = ProviderDescription(
    name="anthropic",
    make_client=make_client,
    key_env="ANTHROPIC_API_KEY",
    key_required=True,
    base_url_env="ANTHROPIC_BASE_URL",
    default_base_url="https://api.anthropic.com",
    sends_temperature=False,
    checks_access=True,
    make_batches=make_batches,
    sdk_modules=("anthropic", "httpx2"),
)
