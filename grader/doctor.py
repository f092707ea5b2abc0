"""`grader doctor`: what this machine, the embedded model, a server and a run folder look like to grader.

Each check is a row (name, ok / warning / failed, detail), so a report can be pasted into an issue
as it is. Native code is only ever run in a child process (the embedded server, and a one-line
import of the runtime for its build information), so a doctor on a machine where llama.cpp crashes
reports the crash instead of dying of it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from grader.errors import GraderError

CPU_FEATURES = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                "amx_bf16", "neon", "asimd", "sve")


class Status(StrEnum):
    """How a check of `grader doctor` came out."""

    ok = "ok"
    warning = "warning"
    failed = "failed"
    info = "info"


class Check(BaseModel):
    """One line of `grader doctor`: what was checked, how it came out, and the detail."""

    name: str
    status: Status
    detail: str


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """The CPU's model name and which of `CPU_FEATURES` it has (Linux; elsewhere the platform's processor)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), []
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return fields.get("model name") or fields.get("CPU part") or platform.machine(), \
        [f for f in CPU_FEATURES if f in flags]


def runtime_info() -> str:
    """llama.cpp's own build line from the runtime, asked in a child process (native code never runs here)."""
    code = "import xllamacpp; print(xllamacpp.get_system_info())"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not be asked ({exc})"
    if done.returncode != 0:
        from grader.llm.embedded import exit_description

        return f"importing it failed with {exit_description(done.returncode)}: {done.stderr.strip()[-300:]}"
    return " ".join(done.stdout.split())


def machine_checks() -> Iterator[Check]:
    yield Check(name="grader", status=Status.info, detail=version_of("grader") or "not installed (a checkout)")
    yield Check(name="python", status=Status.ok if sys.version_info >= (3, 11) else Status.failed,
                detail=f"{platform.python_version()} ({sys.executable})")
    yield Check(name="platform", status=Status.info, detail=f"{platform.platform()} {platform.machine()}")
    model, features = cpu_features()
    amx = [f for f in features if f.startswith("amx")]
    yield Check(name="cpu", status=Status.info, detail=f"{model}; has {', '.join(features) or 'none of'} "
                f"{'(AMX: llama.cpp builds with -march=native crash here; xllamacpp does not use it)' if amx else ''}"
                .strip())


def embedded_checks() -> Iterator[Check]:
    from grader.llm.embedded import MODEL_ALIAS, EmbeddedServer, file_sha256, model_path

    runtime = version_of("xllamacpp")
    yield Check(name="runtime", status=Status.ok if runtime else Status.failed,
                detail=f"xllamacpp {runtime}: {runtime_info()}" if runtime else "xllamacpp is not installed "
                "(pip install xllamacpp)")
    try:
        path = model_path()
    except GraderError as exc:
        yield Check(name="model", status=Status.failed, detail=str(exc))
        return
    yield Check(name="model", status=Status.ok, detail=f"{MODEL_ALIAS}: {path} ({path.stat().st_size / 1e6:.0f} MB, "
                f"sha256 {file_sha256(path)})")
    if not runtime:
        return
    try:
        with EmbeddedServer(smoke=False) as server:
            smoke = server.smoke(max_tokens=16)
    except GraderError as exc:
        yield Check(name="smoke run", status=Status.failed, detail=str(exc))
        return
    speed = (f"prompt {smoke.prompt_per_second:.0f} tokens/s, generation {smoke.completion_per_second:.0f} tokens/s"
             if smoke.prompt_per_second and smoke.completion_per_second else "no timings reported")
    yield Check(name="smoke run", status=Status.ok,
                detail=f"{smoke.completion_tokens} tokens in {smoke.seconds:.2f} s ({speed})")


def server_checks(base_url: str, model: str | None, api_key: str | None) -> Iterator[Check]:
    from grader.llm.backend import check_base_url, check_model, make_openai_client, server_host

    try:
        check_base_url(base_url)
        served = check_model(make_openai_client(base_url, api_key, 30), model, base_url)
    except GraderError as exc:
        yield Check(name="server", status=Status.failed, detail=str(exc))
        return
    yield Check(name="server", status=Status.ok, detail=f"{server_host(base_url)} is reachable and serves {served}")


def run_checks(run_dir: Path) -> Iterator[Check]:
    from grader.runs.folder import RunFolder

    folder = RunFolder(run_dir)
    try:
        record = folder.read()
    except GraderError as exc:
        yield Check(name="run", status=Status.failed, detail=str(exc))
        return
    try:
        holder = folder.holder()
        yield Check(name="run lock", status=Status.warning if holder else Status.ok,
                    detail=f"held by {holder}" if holder else "free (no batch is writing)")
        manifest, totals = record.manifest, record.store.totals()
        yield Check(name="run manifest", status=Status.ok if manifest else Status.warning, detail=(
            f"rubric {manifest.rubric_id}, prompt {manifest.prompt_version}, model {manifest.backend.model} on "
            f"{manifest.backend.server}, grader {manifest.grader_version}, created {manifest.created_at:%Y-%m-%d %H:%M}"
            if manifest else "none (graded by an older grader)"))
        yield Check(name="run contents", status=Status.info, detail=(
            f"{totals['transcripts_done']} transcripts done, {totals['transcripts_failed']} failed; "
            f"{totals['calls']} calls stored, {totals['unscored']} unscored"))
    finally:
        record.store.close()


def diagnose(*, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
             run: Path | None = None, embedded: bool = True) -> Iterator[Check]:
    """Every check, one at a time (the smoke run takes a few seconds)."""
    sections: list[Callable[[], Iterator[Check]]] = [machine_checks]
    if embedded:
        sections.append(embedded_checks)
    if base_url:
        sections.append(lambda: server_checks(base_url, model, api_key))
    if run is not None:
        sections.append(lambda: run_checks(run))
    for section in sections:
        yield from section()
