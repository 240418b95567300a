"""The offline judge: the packaged Gemma 3 270M behind llama.cpp's OpenAI-compatible server.

The server starts on the first call (it takes a few seconds, and a run that needs no judging should
not pay for it) and stops in :meth:`EmbeddedProvider.aclose`. Requests go through
:class:`OpenAIProvider`, so the embedded judge exercises exactly the HTTP path an API judge does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import httpx2

from jp_bench.llm.openai_provider import OpenAIProvider
from jp_bench.llm.types import Completion, Message, ModelSpec


class EmbeddedProvider:
    """Provider for ``embedded`` specs; ``spec.model`` becomes the server's model alias.

    ``model_path`` replaces the packaged GGUF (assembled under JP_BENCH_HOME on first use).
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        model_path: str | Path | None = None,
        chat_format: str = "gemma",
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.spec = spec
        self._model_path = model_path
        self._chat_format = chat_format
        self._http_client = http_client
        self._stack: contextlib.ExitStack | None = None
        self._delegate: OpenAIProvider | None = None
        self._starting = asyncio.Lock()

    async def complete(self, messages: list[Message], spec: ModelSpec) -> Completion:
        delegate = await self._started()
        return await delegate.complete(messages, _as_compatible(spec, delegate.spec.base_url))

    async def aclose(self) -> None:
        if self._delegate is not None:
            await self._delegate.aclose()
            self._delegate = None
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await asyncio.to_thread(stack.close)  # waits for the server process to exit

    async def _started(self) -> OpenAIProvider:
        async with self._starting:  # concurrent first calls start one server, not several
            if self._delegate is None:
                base_url = await asyncio.to_thread(self._start_server)
                self._delegate = OpenAIProvider(_as_compatible(self.spec, base_url), http_client=self._http_client)
            return self._delegate

    def _start_server(self) -> str:
        """Start the server (blocking: assembling the GGUF and loading it take seconds) and return its URL."""
        from jp_bench.local.packaged_models import gemma_gguf
        from jp_bench.local.server import llama_cpp_server

        model_path = self._model_path or gemma_gguf()
        # Kept on self before entering, so aclose stops the server even if the caller was
        # cancelled while this thread was still starting it.
        self._stack = stack = contextlib.ExitStack()
        server = stack.enter_context(
            llama_cpp_server(model_path, chat_format=self._chat_format, model_alias=self.spec.model)
        )
        return server.base_url


def _as_compatible(spec: ModelSpec, base_url: str | None) -> ModelSpec:
    # The local server ignores keys; requests go to it under the "openai-compatible" rules.
    return dataclasses.replace(spec, provider="openai-compatible", base_url=base_url, api_key_env=None)
