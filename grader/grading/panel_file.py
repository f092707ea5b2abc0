"""The judges as a user names them: `--judge NAME=URL,MODEL` (repeatable) or a panel file (YAML), checked.

A judge's name is a short word, given once; its weight (for the `weighted` rule) a positive number; its key
never in a file, only the name of the environment variable holding it (`api_key_env`). What a panel does
with its judges is `grader.grading.panel`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader import yamlio
from grader.errors import GraderError, validation_problems
from grader.grading.panel import MAX_SAMPLES, PanelRule, check_judges


class JudgeSpec(BaseModel):
    """A judge as asked for: a name, an OpenAI-compatible server and a model, a weight (for the weighted rule),
    and the environment variable holding its key (default: --api-key / OPENAI_API_KEY; never a key itself)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    base_url: str
    model: str | None = None
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    api_key_env: str | None = Field(None, description="the environment variable holding this judge's key")


class PanelFile(BaseModel):
    """A panel file (YAML): the judges, and optionally the rule, the review threshold and k."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    judges: list[JudgeSpec] = Field(min_length=1)
    rule: PanelRule | None = None
    max_spread: int | None = Field(None, ge=0, le=4)
    samples: int | None = Field(None, ge=1, le=MAX_SAMPLES)


def parse_judge(text: str) -> JudgeSpec:
    """`NAME=URL,MODEL` (or `NAME=URL`, the server's one model) as a judge; a clear error otherwise."""
    name, sep, rest = text.partition("=")
    url, _, model = rest.rpartition(",") if "," in rest else (rest, "", "")
    if not sep or not name.strip() or not url.strip():
        raise GraderError(f"{text!r} is not NAME=URL,MODEL", where="--judge",
                          fix="e.g. --judge a=http://localhost:8000/v1,my-model (repeat --judge for each judge)")
    check_judges([name.strip()], [1.0])
    return JudgeSpec(name=name.strip(), base_url=url.strip(), model=model.strip() or None)


def load_panel_file(path: str | Path) -> PanelFile:
    """A panel file, strictly validated: an error names the file, the field and the fix."""
    path = Path(path)
    data = yamlio.load_file(path, what="panel file", option="--panel",
                            fix="write it as YAML: `judges:` with a list of name, base_url, model (and weight)")
    if isinstance(data, dict) and ({"api_key", "key"} & {k for j in data.get("judges") or [] if isinstance(j, dict)
                                                          for k in j}):
        raise GraderError("a panel file never holds a key (a file may be committed or shared)", path=path,
                          where="--panel", fix="name the environment variable that holds it: api_key_env: NAME")
    try:
        panel = PanelFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(validation_problems(exc.errors(), top="panel", limit=20))
        raise GraderError(f"not a valid panel file ({problems})", path=path, where="--panel",
                          fix="judges: a list of {name, base_url, model, weight}; rule: median|majority|weighted|"
                              "unanimous; max_spread: 0..4; samples: 1..20") from None
    check_judges([j.name for j in panel.judges], [j.weight for j in panel.judges])
    return panel
