import pytest

from grader.errors import PromptError
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import Chunk
from grader.ingest.rubric import load_rubric
from grader.ingest.transcript import Role, Turn
from grader.resources import library

from .conftest import RUBRIC

PROMPT_FILES = sorted(p for p in library("prompts").iterdir() if p.name.endswith(".yaml"))


@pytest.mark.parametrize("path", PROMPT_FILES, ids=lambda p: p.name)
def test_every_prompt_file_loads_and_renders(path):
    prompt = load_prompt(path)
    rubric = load_rubric(RUBRIC)
    comp, crit = rubric.criteria()[0]
    chunk = Chunk(index=1, tokens=10, turns=[Turn(index=1, speaker="A", role=Role.candidate, text="hello there")])
    messages = prompt.render(rubric, comp, crit, chunk)
    assert prompt.version and len(prompt.sha256) == 16
    assert "Candidate (A): [1.1] hello there" in messages.system + messages.user
    assert crit.name in messages.system + messages.user


def test_default_layout_puts_the_criterion_last():
    rubric = load_rubric(RUBRIC)
    comp, crit = rubric.criteria()[0]
    chunk = Chunk(index=1, tokens=10, turns=[Turn(index=1, speaker="A", role=Role.candidate, text="hi")])
    messages = load_prompt().render(rubric, comp, crit, chunk)
    assert crit.name not in messages.system and crit.levels[5] in messages.user


@pytest.mark.parametrize(("text", "message"), [
    ("version: x\nsystem: a\n", "invalid prompt file"),
    ("version: x\nsystem: '{{ a'\nuser: b\n", "template syntax error"),
    ("- a list\n", "not a YAML prompt file"),
])
def test_bad_prompt_files(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PromptError, match=message):
        load_prompt(path)
