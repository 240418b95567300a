"""Any OpenAI-compatible server (vLLM, llama.cpp, a proxy): OpenAI's client rules, no public endpoint.

Such servers often ignore keys, so none is required; those that offer ``/v1/batches`` take OpenAI's
Batch API.
"""

from __future__ import annotations

from jp_bench.llm.providers import ProviderDescription
from jp_bench.llm.providers.openai import make_batches, make_client

PROVIDER = ProviderDescription(
    name="openai-compatible",
    make_client=make_client,
    key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    checks_access=True,
    make_batches=make_batches,
    sdk_modules=("openai", "httpx2"),
)
