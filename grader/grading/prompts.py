"""Prompt templates: files with an explicit version, rendered with Jinja2.

A template has a `system` part (instructions and the transcript: the same for every criterion of
one transcript, so the server reuses it as a cached prefix) and a `user` part (the criterion).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader import yamlio
from grader.errors import PromptError
from grader.ingest.chunking import Chunk, render_turn
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.resources import resolve

DEFAULT_PROMPT = "grade-criterion"
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class Messages(BaseModel):
    model_config = ConfigDict(frozen=True)
    system: str
    user: str

    def as_openai(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.as_openai(), ensure_ascii=False).encode()).hexdigest()


class PromptTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1)
    description: str = ""
    system: str
    user: str
    sha256: str = Field("", description="hash of the template file, stored with every grade")

    def render(self, rubric: Rubric, competency: Competency, criterion: Criterion, chunk: Chunk,
               n_chunks: int = 1) -> Messages:
        """Both parts see every variable; the shipped template uses the transcript in `system` only."""
        variables = template_variables(rubric, competency, chunk, n_chunks, criterion)
        return Messages(system=compiled(self.system).render(variables).strip(),
                        user=compiled(self.user).render(variables).strip())


def template_variables(rubric: Rubric, competency: Competency, chunk: Chunk, n_chunks: int = 1,
                       criterion: Criterion | None = None) -> dict[str, Any]:
    """What a template can use: the rubric, the competency (and criterion) asked, the transcript chunk."""
    note = (f"part {chunk.index} of {n_chunks}: turns {chunk.first_turn} to {chunk.last_turn}"
            if n_chunks > 1 else "")
    return {"rubric": rubric, "competency": competency, "criterion": criterion, "chunk_note": note,
            "transcript_lines": [render_turn(t) for t in chunk.turns],
            "red_flags": list(zip(competency.red_flag_ids, competency.red_flags, strict=True))}


@functools.lru_cache(maxsize=32)
def compiled(source: str) -> jinja2.Template:
    """A template compiled once, not at every call."""
    return _ENV.from_string(source)


def load_prompt(name_or_path: Path | str = DEFAULT_PROMPT) -> PromptTemplate:
    """A prompt template: a built-in name (`grade-criterion`) or a YAML file."""
    path = resolve("prompts", name_or_path)
    try:
        raw = path.read_bytes()
        data = yamlio.load(raw.decode("utf-8"))
        template = PromptTemplate.model_validate({**data, "sha256": hashlib.sha256(raw).hexdigest()[:16]})
        for part in (template.system, template.user):
            _ENV.parse(part)
    except FileNotFoundError:
        raise PromptError("no such prompt file", path=path, fix="check the --prompt path") from None
    except OSError as exc:
        raise PromptError(f"cannot read the prompt file ({exc.strerror})", path=path,
                          fix="give a readable YAML prompt file with --prompt") from None
    except (UnicodeDecodeError, yaml.YAMLError, TypeError) as exc:
        raise PromptError(f"not a YAML prompt file: {exc}", path=path,
                          fix="give a YAML file with version, system and user") from None
    except ValidationError as exc:
        raise PromptError(f"invalid prompt file: {exc}", path=path,
                          fix="give version, system and user (and optionally description)") from None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"template syntax error: {exc.message}", path=path, where=f"line {exc.lineno}",
                          fix="correct the Jinja2 syntax") from None
    return template
