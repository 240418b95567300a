"""Start llama-cpp-python's OpenAI-compatible server on 127.0.0.1 and always stop it.

Used by the offline demo, the embedded judge and the tests: a real HTTP server speaking the OpenAI
chat-completions protocol, over a GGUF model that ships as a Python package.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jp_bench.errors import JpBenchError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningServer:
    base_url: str  # ends with /v1, as the OpenAI SDK expects
    port: int
    model_alias: str
    log_path: Path

    @property
    def chat_completions_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    @property
    def completions_url(self) -> str:
        return f"{self.base_url}/completions"


def _wait_until_ready(url: str, process: subprocess.Popen, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise JpBenchError(f"llama.cpp server exited with code {process.returncode}: {_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.25)
    raise JpBenchError(f"llama.cpp server did not answer {url} within {timeout_s:.0f}s: {_tail(log_path)}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def llama_cpp_server(
    model_path: str | Path,
    *,
    chat_format: str | None = None,
    model_alias: str | None = None,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    port: int | None = None,
    log_dir: str | Path | None = None,
    startup_timeout_s: float = 120.0,
    extra_args: tuple[str, ...] = (),
) -> Iterator[RunningServer]:
    """Run ``python -m llama_cpp.server`` for the duration of the ``with`` block.

    The server binds 127.0.0.1 only. It runs in its own process group and is terminated (then
    killed) on exit, whether the block ends normally, raises, or is interrupted with Ctrl-C.
    """
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise JpBenchError(
            "llama-cpp-python is not installed: pip install 'jp-bench[local]' "
            "(it compiles llama.cpp; set CMAKE_ARGS=-DGGML_NATIVE=OFF for a portable build)"
        ) from None
    model = Path(model_path)
    if not model.is_file():
        raise JpBenchError(f"{model}: GGUF model file not found")
    alias = model_alias or model.stem
    port = port or free_port()
    log_folder = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="jp-bench-server-"))
    log_folder.mkdir(parents=True, exist_ok=True)
    log_path = log_folder / f"llama-server-{port}.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--model_alias", alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        *(("--chat_format", chat_format) if chat_format else ()),
        *(("--n_threads", str(n_threads)) if n_threads else ()),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        _wait_until_ready(f"{base_url}/models", process, startup_timeout_s, log_path)
        yield RunningServer(base_url=base_url, port=port, model_alias=alias, log_path=log_path)
    finally:
        _stop(process)
