"""Prompt templates: files with an explicit version, rendered with Jinja2.

A template has a `system` part (instructions and the transcript: the same for every criterion of
one transcript, so the server reuses it as a cached prefix) and a `user` part (the criterion).

Datamarking (spotlighting, Hines et al. 2024, "Defending Against Indirect Prompt Injection Attacks
With Spotlighting") is off by default: `load_prompt(name, datamark=DATAMARK)` (or `datamark:` in a
prompt file) replaces every run of whitespace in what the speakers said (and in their names) with
the marker, so the model can tell the transcript's words from the instructions around them; role
labels, times and unit ids stay as they are. The template sees the marker as `datamark` ("" when
off) to explain it (`prompts/grade-criterion-datamarked.yaml` does), and the version stored with
every grade says it (`+datamark`). Text in scripts written without spaces (Chinese, Japanese) is
not marked.

Exemplars (`grader.grading.exemplar_block`, `--exemplars FILE`): a template carries the set it shows
(`exemplars`) and, once made for one transcript, the block of examples rendered by code
(`exemplar_block`), which `render` puts into `system` right before the line that opens the transcript
(`<transcript`), or at its start in a template without that line: after the instructions, before
anything that differs between transcripts, so the block is part of the prefix every call shares.
Without exemplars both are empty and `render` is what it always was, byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader import yamlio
from grader.errors import PromptError
from grader.ingest.chunking import Chunk, render_turn
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.ingest.transcript import Turn
from grader.resources import resolve

DEFAULT_PROMPT = "grade-criterion"
DATAMARKED_PROMPT = "grade-criterion-datamarked"
DATAMARK = "\u02c6"  # ˆ, the modifier circumflex of Hines et al.: rare in speech, and one token in most vocabularies
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
    datamark: str = Field("", description="a marker put for every space in the speakers' words (spotlighting); "
                                          "empty: off")
    # set by code, never read from a prompt file (`grader.grading.exemplar_block.with_exemplars`)
    exemplars: Any = Field(None, exclude=True, repr=False,
                           description="the exemplars shown (an `ExemplarChoice`), or None: no exemplars")
    exemplar_block: str = Field("", exclude=True, repr=False,
                                description="the examples block for the transcript being graded (in `system`)")

    def render(self, rubric: Rubric, competency: Competency, criterion: Criterion, chunk: Chunk,
               n_chunks: int = 1) -> Messages:
        """Both parts see every variable; the shipped template uses the transcript in `system` only."""
        variables = template_variables(rubric, competency, chunk, n_chunks, criterion, datamark=self.datamark)
        system = compiled(self.system).render(variables).strip()
        if self.exemplar_block:
            system = with_shared_block(system, self.exemplar_block)
        return Messages(system=system, user=compiled(self.user).render(variables).strip())


_SET_BY_CODE = {"exemplars", "exemplar_block"}
_TRANSCRIPT_OPENS = re.compile(r"^<transcript\b", re.MULTILINE)


def with_shared_block(system: str, block: str) -> str:
    """`system` with `block` put right before the line that opens the transcript (`<transcript ...>`), so it
    follows the instructions and precedes everything that differs between transcripts; at the start of a
    `system` without that line. A `<transcript` in what the speakers said never starts a line of its own
    (`render_turn` neutralises it), so the first such line is the template's own."""
    found = _TRANSCRIPT_OPENS.search(system)
    if found is None:
        return f"{block}\n\n{system}"
    return f"{system[:found.start()]}{block}\n\n{system[found.start():]}"


def template_variables(rubric: Rubric, competency: Competency, chunk: Chunk, n_chunks: int = 1,
                       criterion: Criterion | None = None, *, datamark: str = "") -> dict[str, Any]:
    """What a template can use: the rubric, the competency (and criterion) asked, the transcript chunk (its
    speakers' words datamarked when `datamark` is a marker), and the marker itself."""
    note = (f"part {chunk.index} of {n_chunks}: turns {chunk.first_turn} to {chunk.last_turn}"
            if n_chunks > 1 else "")
    turns = [datamarked(t, datamark) for t in chunk.turns] if datamark else chunk.turns
    return {"rubric": rubric, "competency": competency, "criterion": criterion, "chunk_note": note,
            "transcript_lines": [render_turn(t) for t in turns], "datamark": datamark,
            "red_flags": list(zip(competency.red_flag_ids, competency.red_flags, strict=True))}


def datamark_text(text: str, marker: str = DATAMARK) -> str:
    """Every run of whitespace in `text` replaced by `marker` ("I led it" -> "Iˆledˆit")."""
    return marker.join(text.split())


def datamarked(turn: Turn, marker: str = DATAMARK) -> Turn:
    """The turn with its speaker's name and every unit's text datamarked (ids, role and time untouched)."""
    units = [u.model_copy(update={"text": datamark_text(u.text, marker)}) for u in turn.units]
    return turn.model_copy(update={"units": units, "speaker": datamark_text(turn.speaker, marker)})


@functools.lru_cache(maxsize=32)
def compiled(source: str) -> jinja2.Template:
    """A template compiled once, not at every call."""
    return _ENV.from_string(source)


def load_prompt(name_or_path: Path | str = DEFAULT_PROMPT, *, datamark: str | None = None) -> PromptTemplate:
    """A prompt template: a built-in name (`grade-criterion`) or a YAML file; with `datamark` (a marker such as
    `DATAMARK`, or "" for off), datamarking as asked whatever the file says, the version saying so."""
    path = resolve("prompts", name_or_path)
    try:
        raw = path.read_bytes()
        data = yamlio.load(raw.decode("utf-8"))
        if isinstance(data, dict) and _SET_BY_CODE & set(data):
            raise PromptError(f"invalid prompt file: {', '.join(sorted(_SET_BY_CODE & set(data)))} is set by grader "
                              "(--exemplars), never by a prompt file", path=path,
                              fix="remove it from the file; give exemplars with --exemplars FILE")
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
    if datamark is not None and datamark != template.datamark:
        if datamark and (not datamark.strip() or any(ch in datamark for ch in "[]")):
            raise PromptError("a datamark must be visible and not a square bracket (unit ids use them)", path=path,
                              fix="use the default marker, grader.grading.prompts.DATAMARK")
        version = template.version.removesuffix("+datamark") + ("+datamark" if datamark else "")
        sha = hashlib.sha256(raw + f"\0datamark={datamark}".encode()).hexdigest()[:16]  # a call's key changes too
        template = template.model_copy(update={"datamark": datamark, "version": version, "sha256": sha})
    return template
