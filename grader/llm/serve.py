"""The embedded model server's own process: `python -m grader.llm.serve CONFIG_JSON`.

`grader.llm.embedded.EmbeddedServer` starts this in a child process, so that native code that
crashes (a segfault in llama.cpp) takes down this process only, never grader. It serves llama.cpp's
native OpenAI-compatible HTTP server from the prebuilt `xllamacpp` wheel (no compiler; built for
AVX2 without AMX kernels, so it runs on any x86-64 CPU of the last decade, and on arm64).

It never outlives grader: it exits when its standard input closes (grader keeps the other end
open, and the OS closes it however grader ends, SIGKILL included), and on Linux it also asks the
kernel for SIGKILL when its parent dies. Ctrl-C at the terminal is grader's to handle: this
process runs in its own session and ignores SIGINT.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
from typing import Any

READY = "grader-embedded-server-ready"
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when the parent exits (checked once more for a parent already gone)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def exit_when_stdin_closes() -> None:
    """Block on standard input in a thread; its end of file means grader is gone: exit at once."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1024):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def params(config: dict[str, Any]) -> Any:
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = config["model"]
    p.model_alias = {config["alias"]}  # a set of names: a plain str would be split into characters
    p.hostnames = ["127.0.0.1"]
    p.port = int(config["port"])
    p.n_ctx = int(config["n_ctx"])
    p.n_parallel = 1  # one slot: on 2 cores parallel requests take as long as the same in a row
    p.cpuparams.n_threads = int(config["threads"])
    p.cpuparams_batch.n_threads = int(config["threads"])
    p.sampling.penalty_repeat = 1.1  # llama.cpp's 1.0 lets SmolLM2 loop until max_tokens
    p.ui = False
    p.cache_ram_mib = 512  # prompts kept in RAM for reuse after an unrelated request (8 GiB by default)
    return p


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(int(config["parent"]))
    exit_when_stdin_closes()
    import xllamacpp

    server = xllamacpp.Server(params(config))
    print(f"{READY} {server.listening_address}", flush=True)
    threading.Event().wait()  # serve until killed (SIGTERM from grader) or until stdin closes


if __name__ == "__main__":
    main(sys.argv)
