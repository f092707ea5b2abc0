"""Every example in the docs runs: a stale example fails here, not in a user's terminal.

Each fenced ```bash, ```console and ```python block of README.md and docs/*.md is one test, named by its
file and line. Its commands run, in order, in a fresh copy of a workspace laid out like the repository
(transcripts/, rubrics/, prompts/, tests/data/) plus the few files the examples name (interview.vtt,
call.txt, ratings.csv, demographics.csv, a graded run in runs/june, ...), against the fake OpenAI-
compatible server of `grader.testing`: $OPENAI_BASE_URL points at it and $OPENAI_API_KEY is a dummy, so
a command without --base-url uses it instead of the embedded model. The placeholder server of the
examples, http://localhost:8000/v1 serving "my-model", is a second fake.

Each command must exit 0, or the code the doc states right above the block:

    <!-- docs-test: exit 1 (why) -->

A block that cannot run here (installs, a server that runs until Ctrl-C, real data, the network) is
skipped only by a marker right above it, which must give a reason:

    <!-- docs-test: skip (serves until Ctrl-C) -->

A bash block may run `grader` and the read-only tools in READ_ONLY; anything else (pip, pytest, python -m
evals..., curl) needs a skip marker, so nothing is skipped silently. The marker count and reasons are
printed by `pytest tests/test_docs.py -s -k marker` (a marked block is not a test, so none is reported as
skipped). The blocks run side by side, a worker per CPU (each is its own processes in its own
folder), when the first of them is asked for. The test also checks that every repository path and
`python -m` module the docs name exists.
"""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.testing import FakeOpenAI

from .conftest import ANSWERS, ROOT, TRANSCRIPTS

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"bash", "console", "python"}
READ_ONLY = {"cat", "head", "tail", "ls", "wc", "sqlite3"}
PLACEHOLDER_URL = "http://localhost:8000/v1"  # "your server" in the examples; the second fake in the test
PLACEHOLDER_MODEL = "my-model"
COMMAND_SECONDS = 120

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<lang>[\w+-]*)[^`]*$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>skip|exit)\b\s*(?P<rest>.*?)\s*-->\s*$")
_ANY_MARKER = re.compile(r"^\s*<!--\s*docs-test", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    skip: str | None = None  # the reason
    exit_code: int = 0

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def read_blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, ticks, lang = opened["indent"], opened["ticks"], opened["lang"]
        end = i + 1
        while end < len(lines) and not re.match(rf"^[ \t]*{ticks}\s*$", lines[end]):
            end += 1
        if lang in LANGUAGES:
            code = "\n".join(line.removeprefix(indent) for line in lines[i + 1:end]) + "\n"
            yield _with_marker(Block(path, i + 1, lang, code), lines, i)
        i = end + 1


def _with_marker(block: Block, lines: list[str], fence: int) -> Block:
    above = fence - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    marker = _MARKER.match(lines[above]) if above >= 0 else None
    if not marker:
        return block
    reason = marker["rest"].strip()
    if marker["what"] == "skip":
        return Block(block.path, block.line, block.lang, block.code, skip=reason.strip("():; ") or "")
    code = re.match(r"(\d+)", reason)
    assert code, f"{block.id}: 'docs-test: exit' needs a number, e.g. <!-- docs-test: exit 1 (why) -->"
    return Block(block.path, block.line, block.lang, block.code, exit_code=int(code[1]))


BLOCKS = [block for path in DOCS for block in read_blocks(path)]


def commands(block: Block) -> list[str]:
    """The command lines of a shell block: continuations joined; comments, blank lines and output left out."""
    found, pending = [], ""
    for raw in block.code.splitlines():
        line = raw.rstrip()
        if block.lang == "console":
            if pending:
                line = line.strip()
            elif line.startswith("$ "):
                line = line[2:]
            else:
                continue  # output
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if not _balanced(pending + line):  # a quoted argument that goes on over the next line
            pending += line + "\n"
            continue
        found.append((pending + line).strip())
        pending = ""
    assert not pending, f"{block.id}: a command ends in a line continuation"
    return found


def _balanced(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def program(command: str) -> str:
    words = shlex.split(command, comments=True)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):  # VAR=value in front
        words = words[1:]
    return words[0] if words else ""


# ---- the workspace the examples run in -------------------------------------------------------------------------------

MIT_CRITERIA = ["overall", "recommend-hiring", "structured-answers", "engaged", "friendly"]  # mit-interview


def _interview(i: int) -> str:
    turns = []
    for q, question in enumerate(["Tell me about a project you are proud of.", "How did you measure it?",
                                  "What would you do differently?"]):
        turns.append(f"Interviewer: {question}")
        turns.append(f"Candidate: {ANSWERS[(i + q) % len(ANSWERS)]} {ANSWERS[(i * 3 + q) % len(ANSWERS)]}")
    return "\n".join(turns) + "\n"


def build_workspace(root: Path, base_url: str, env: dict[str, str]) -> None:
    """The repository's sample files, the files the examples name, and runs graded by the fake server."""
    for folder in ("transcripts", "rubrics", "prompts"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "tests" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "data" / "samples-gold.csv", root / "tests" / "data")
    shutil.copy(TRANSCRIPTS / "strong-candidate.vtt", root / "interview.vtt")
    shutil.copy(TRANSCRIPTS / "weak-candidate.json", root / "interview.json")
    short = (TRANSCRIPTS / "short-screen.txt").read_text(encoding="utf-8")
    shutil.copy(TRANSCRIPTS / "short-screen.txt", root / "short-screen.txt")
    (root / "call.txt").write_text(short.replace("Interviewer:", "Dana:"), encoding="utf-8")
    interviews = root / "interviews"
    interviews.mkdir()
    with (root / "interviews.csv").open("w", newline="", encoding="utf-8") as handle:  # the MIT dataset layout
        out = csv.writer(handle)
        out.writerow(["interview_id", "transcript"])
        for i in range(1, 13):
            (interviews / f"p{i}.txt").write_text(_interview(i), encoding="utf-8")
            out.writerow([f"p{i}", _interview(i).strip().replace("\n", "|").replace("Candidate:", "Interviewee:")])
    with (root / "ratings.csv").open("w", newline="", encoding="utf-8") as handle:  # gold of interviews/
        out = csv.writer(handle)
        out.writerow(["transcript_id", "criterion_id", "rater_id", "score"])
        for i in range(1, 13):
            for c, criterion in enumerate(MIT_CRITERIA):
                for rater in (1, 2):
                    out.writerow([f"p{i}", criterion, f"r{rater}", 1 + (i + c + rater) % 5])
    with (root / "demographics.csv").open("w", newline="", encoding="utf-8") as handle:  # of interviews/
        out = csv.writer(handle)
        out.writerow(["transcript_id", "sex", "race_ethnicity"])
        for i in range(1, 13):
            out.writerow([f"p{i}", "female" if i % 2 else "male", ["Asian", "Black", "White"][i % 3]])
    (root / "prices.yaml").write_text("models:\n  fake-grader: {input: 0.4, cached_input: 0.1, output: 1.6}\n",
                                      encoding="utf-8")
    batches = []
    for args in (["transcripts/", "--run", "runs/june"],  # the runs the examples read
                 ["transcripts/", "--run", "runs/tour", "--rubric", "mit-interview"],
                 ["interviews/", "--run", "runs/mit", "--rubric", "mit-interview"],
                 ["interviews/", "--run", "runs/mit-b", "--rubric", "mit-interview", "--seed", "8"]):
        batches.append(subprocess.Popen(["grader", "batch", *args, "--base-url", base_url], cwd=root, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for batch in batches:  # side by side: each writes its own run folder
        _, errors = batch.communicate(timeout=COMMAND_SECONDS)
        assert batch.returncode == 0, errors
    samples = sorted(p.stem for p in TRANSCRIPTS.iterdir() if p.suffix in {".txt", ".vtt", ".srt", ".json"})
    add_reviews(root, "runs/june", env, [(t, c, r) for t in samples for c in _criteria("senior-data-scientist")
                                         for r in ("dana", "lee")])
    add_reviews(root, "runs/mit", env, [(f"p{i}", c, "dana") for i in range(1, 7) for c in MIT_CRITERIA])


def _criteria(rubric: str) -> list[str]:
    import grader

    return [criterion.id for _, criterion in grader.load_rubric(rubric).criteria()]


def add_reviews(root: Path, run: str, env: dict[str, str], decisions: list[tuple[str, str, str]]) -> None:
    """Reviews posted as a reviewer's tool would: `grader review`'s JSON API (an override every third)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["grader", "review", run, "--port", str(port)], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + COMMAND_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{base}/transcripts", timeout=5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()
                time.sleep(0.2)
        latest: dict[tuple[str, str], int] = {}
        for n, (transcript, criterion, reviewer) in enumerate(decisions):
            override = n % 3 == 0
            body = {"transcript_id": transcript, "criterion_id": criterion, "reviewer": reviewer,
                    "action": "override" if override else "confirm", "level": 1 + n % 5 if override else None,
                    "reason": "docs example" if override else "", "seen_review_id": latest.get((transcript, criterion))}
            request = urllib.request.Request(f"{base}/reviews", data=json.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json", "X-Requested-With": "docs"})
            with urllib.request.urlopen(request, timeout=10) as reply:
                latest[(transcript, criterion)] = json.load(reply)["id"]
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    default, placeholder = FakeOpenAI().start(), FakeOpenAI(models=[PLACEHOLDER_MODEL]).start()
    yield default.base_url, placeholder.base_url
    default.close()
    placeholder.close()


@pytest.fixture(scope="session")
def docs_env(servers: tuple[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "GRADER_"))}
    env.update(OPENAI_BASE_URL=servers[0], OPENAI_API_KEY="sk-docs-test-not-a-key", PYTHONPATH=str(ROOT),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120",
               NO_COLOR="1", TERM="dumb")
    return env


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory, servers: tuple[str, str], docs_env: dict[str, str]) -> Path:
    root = tmp_path_factory.mktemp("docs-workspace")
    build_workspace(root, servers[0], docs_env)
    return root


# ---- the tests ---------------------------------------------------------------------------------------

def test_every_skip_marker_gives_a_reason_and_sits_above_a_block():
    skipped = [block for block in BLOCKS if block.skip is not None]
    assert all(block.skip for block in skipped), [block.id for block in skipped if not block.skip]
    markers = sum(len(_ANY_MARKER.findall(path.read_text(encoding="utf-8"))) for path in DOCS)
    exits = sum(1 for block in BLOCKS if block.exit_code)
    assert markers == len(skipped) + exits, "a docs-test marker that is not right above a code block"
    print(f"\n{len(BLOCKS)} doc blocks: {len(BLOCKS) - len(skipped)} run, {len(skipped)} skipped by marker")
    for block in skipped:
        print(f"  skip {block.id}: {block.skip}")


def test_the_docs_have_examples():
    assert len(BLOCKS) >= 20 and {block.path.name for block in BLOCKS} >= {"README.md", "grade.md", "batch.md"}


def run_block(block: Block, workspace: Path, here: Path, servers: tuple[str, str], env: dict[str, str]) -> str:
    """Run one block in a fresh copy of the workspace: what went wrong, or "" when all went as the doc says."""
    shutil.copytree(workspace, here, symlinks=True)
    if block.lang == "python":
        (here / "example.py").write_text(block.code.replace(PLACEHOLDER_URL, servers[1]), encoding="utf-8")
        return _run(block, [sys.executable, "example.py"], "python example", here, env)
    for command in commands(block):
        name = program(command)
        if name != "grader" and name not in READ_ONLY:
            return (f"`{command}` runs {name!r}; only grader and {sorted(READ_ONLY)} run here, so add "
                    "<!-- docs-test: skip (why) --> right above the block")
        problem = _run(block, ["bash", "-c", command.replace(PLACEHOLDER_URL, servers[1])], command, here, env)
        if problem:
            return problem
    return ""


def _run(block: Block, argv: list[str], shown: str, cwd: Path, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_SECONDS,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"`{shown}` did not finish in {COMMAND_SECONDS} s"
    if done.returncode == block.exit_code:
        return ""
    return (f"`{shown}` exited {done.returncode}, the doc says {block.exit_code}\n"
            f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


@pytest.fixture(scope="session")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, workspace: Path,
             servers: tuple[str, str], docs_env: dict[str, str]) -> dict[str, str]:
    """Every selected block that runs, run at once, a worker per CPU: block id -> "" or what went wrong.

    The commands are independent processes, each in its own copy of the workspace, so running them side by
    side changes nothing but the wall time.
    """
    selected = {item.callspec.params["block"].id for item in request.session.items
                if item.originalname == "test_doc_example_runs" and hasattr(item, "callspec")}
    todo = [block for block in BLOCKS if block.id in selected and block.skip is None]
    root = tmp_path_factory.mktemp("docs-blocks")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {block.id: pool.submit(run_block, block, workspace, root / f"block{n}", servers, docs_env)
                   for n, block in enumerate(todo)}
        return {block_id: future.result() for block_id, future in futures.items()}


RUN = [block for block in BLOCKS if block.skip is None]  # the marked ones are listed by the marker test


@pytest.mark.parametrize("block", RUN, ids=[block.id for block in RUN])
def test_doc_example_runs(block: Block, outcomes: dict[str, str]):
    if outcomes[block.id]:
        pytest.fail(f"{block.id}: {outcomes[block.id]}", pytrace=False)


_PATH = re.compile(r"`((?:grader|evals|tests|rubrics|prompts|transcripts|docs)/[^`\s*<>]*)`")
_MODULE = re.compile(r"python -m (evals\.\w+|grader\.[\w.]+)")
_NAMED_FILE = re.compile(r"`([\w-]+\.py|[\w-]+/)`")


@pytest.mark.parametrize("path", DOCS, ids=[str(path.relative_to(ROOT)) for path in DOCS])
def test_every_path_and_module_the_docs_name_exists(path: Path):
    text = path.read_text(encoding="utf-8")
    missing = [name for name in _PATH.findall(text) if not (ROOT / name).exists()]
    missing += [name for name in _MODULE.findall(text)
                if not any((ROOT / (name.replace(".", "/") + suffix)).exists() for suffix in (".py", "/__main__.py"))]
    for row in text.splitlines():  # layout tables: `grader/x/` | ... `module.py` ... -> grader/x/module.py
        package = re.match(r"^\| `(grader/\w+/)` \|", row)
        if package:
            missing += [package[1] + name for name in _NAMED_FILE.findall(row.split("|", 2)[2])
                        if not (ROOT / package[1] / name).exists()]
    assert not missing, f"{path.name} names what is not in the repository: {missing}"


def test_the_fake_server_answers_the_docs_model_names(servers: tuple[str, str]):
    import urllib.request

    with urllib.request.urlopen(servers[1] + "/models", timeout=5) as reply:
        assert [m["id"] for m in json.load(reply)["data"]] == [PLACEHOLDER_MODEL]
