"""llama.cpp's OpenAI-compatible server: starts on 127.0.0.1, answers the real SDK, always stops."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from jp_bench.errors import JpBenchError
from jp_bench.local.server import llama_cpp_server

pytestmark = pytest.mark.e2e


def is_listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_server_answers_openai_sdk_and_stops_even_on_error(packaged_gguf: Path, tmp_path: Path) -> None:
    from openai import OpenAI

    port = None
    with (
        pytest.raises(RuntimeError, match="boom"),
        llama_cpp_server(packaged_gguf, chat_format="gemma", model_alias="gemma", log_dir=tmp_path) as server,
    ):
        port = server.port
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        client = OpenAI(base_url=server.base_url, api_key="not-needed")
        reply = client.chat.completions.create(
            model="gemma", messages=[{"role": "user", "content": "こんにちは"}], max_tokens=8, temperature=0
        )
        assert reply.choices[0].message.content
        assert reply.usage.completion_tokens > 0
        raise RuntimeError("boom")
    assert port is not None and not is_listening(port)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JpBenchError, match="GGUF model file not found"), llama_cpp_server(tmp_path / "none.gguf"):
        pass
