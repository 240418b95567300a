"""Model calls for judges, data generation and translation: one client, several providers.

    from jp_bench.llm import LLMClient, Message, ModelSpec

    spec = ModelSpec(provider="openai", model="gpt-4o", api_key_env="OPENAI_API_KEY")
    async with LLMClient(spec, concurrency=8) as client:
        reply = await client.complete([Message("user", "こんにちは")])

Importing this package does not import the vendor SDKs; :func:`get_provider` does, for the
provider a spec names.
"""

from __future__ import annotations

from jp_bench.llm import errors
from jp_bench.llm.client import LLMClient
from jp_bench.llm.errors import LLMError, PermanentError, RetriesExhausted, TransientError
from jp_bench.llm.registry import get_provider, known_providers
from jp_bench.llm.tokens import estimate_messages_tokens, estimate_tokens
from jp_bench.llm.types import Completion, Message, ModelSpec, Provider

__all__ = [
    "Completion",
    "LLMClient",
    "LLMError",
    "Message",
    "ModelSpec",
    "PermanentError",
    "Provider",
    "RetriesExhausted",
    "TransientError",
    "errors",
    "estimate_messages_tokens",
    "estimate_tokens",
    "get_provider",
    "known_providers",
]
