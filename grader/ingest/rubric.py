"""Rubric > Competency > Criterion: what good looks like, validated strictly from YAML."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader import yamlio
from grader.errors import GraderError, RubricError
from grader.resources import resolve

LEVELS = (1, 2, 3, 4, 5)
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="lower-case id: a-z, 0-9, '-'")]
Text = Annotated[str, Field(min_length=1)]
MAX_WEIGHT = 1000.0
# numbers users write: finite, never a boolean or a string (`weight: true` is not 1, `.inf` is not a weight)
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Strict):
    """One scored aspect of a competency, with an anchor text for each of the five levels."""

    id: Slug
    name: Text
    weight: Number = Field(gt=0, le=MAX_WEIGHT, description="relative weight inside its competency (0 < w <= 1000)")
    levels: dict[int, Text] = Field(description="anchor text for each level 1..5")

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, levels: dict[int, str]) -> dict[int, str]:
        missing = [lvl for lvl in LEVELS if lvl not in levels]
        extra = [lvl for lvl in levels if lvl not in LEVELS]
        if missing or extra:
            problems = [f"missing level {', '.join(map(str, missing))}"] if missing else []
            problems += [f"unknown level {', '.join(map(str, extra))}"] if extra else []
            raise ValueError(f"{'; '.join(problems)}: give exactly the levels 1, 2, 3, 4 and 5")
        return dict(sorted(levels.items()))


class Competency(_Strict):
    """A competency: weighted criteria, a minimum passing score, probes and red flags."""

    id: Slug
    name: Text
    band: str | None = None
    min_passing_score: Number = Field(ge=1, le=5)
    signals: str | None = Field(None, description="verbal-only signals of the expected level")
    scope: str | None = None
    autonomy: str | None = None
    criteria: list[Criterion] = Field(min_length=1)
    probes: list[Text] = Field(default_factory=list)
    red_flags: list[Text] = Field(default_factory=list)

    @field_validator("criteria")
    @classmethod
    def _unique_criteria(cls, criteria: list[Criterion]) -> list[Criterion]:
        _reject_duplicates([c.id for c in criteria], "criterion id")
        return criteria

    @property
    def red_flag_ids(self) -> list[str]:
        """Short stable ids (`rf1`, `rf2`, ...) by which a grade names a red flag."""
        return [f"rf{i}" for i in range(1, len(self.red_flags) + 1)]

    def red_flag(self, flag_id: str) -> str:
        return dict(zip(self.red_flag_ids, self.red_flags, strict=True))[flag_id]


class Rubric(_Strict):
    """A whole rubric: the competencies a role is interviewed on."""

    id: Slug
    title: Text
    description: str | None = None
    source: str | None = Field(None, description="where the rubric came from")
    competencies: list[Competency] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        _reject_duplicates([c.id for c in self.competencies], "competency id")
        _reject_duplicates([cr.id for c in self.competencies for cr in c.criteria],
                           "criterion id (ids must be unique across the rubric)")
        return self

    def criteria(self) -> list[tuple[Competency, Criterion]]:
        """Every (competency, criterion) pair in rubric order."""
        return [(comp, crit) for comp in self.competencies for crit in comp.criteria]

    def red_flag_ids(self) -> list[str]:
        """Every red-flag id a competency uses (`rf1`, `rf2`, ...): one enum for all of the rubric's replies."""
        most = max((len(c.red_flags) for c in self.competencies), default=0)
        return [f"rf{i}" for i in range(1, most + 1)]

    def competency_of(self, criterion_id: str) -> Competency:
        for comp, crit in self.criteria():
            if crit.id == criterion_id:
                return comp
        raise KeyError(criterion_id)

    def content_hash(self) -> str:
        """Hash of the rubric's meaning (not its formatting), stored on every score sheet (computed once)."""
        return self.hash16

    @functools.cached_property
    def hash16(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _reject_duplicates(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(f"duplicate {what}: {', '.join(dupes)}; give each one a unique id")


def rubric_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rubric file (what `grader rubric schema` prints)."""
    schema = Rubric.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "grader rubric"
    return schema


def load_rubric(name_or_path: Path | str) -> Rubric:
    """Read and validate a rubric: a built-in name (`grader rubric list`) or a YAML file.

    Every problem is reported with its place and fix.
    """
    try:
        path = resolve("rubrics", name_or_path)
    except GraderError as exc:  # neither a file nor a built-in name
        raise RubricError(exc.detail, path=exc.path, fix=exc.fix) from None
    return parse_rubric(_read_text(path), source=path)


def parse_rubric(text: str, *, source: Path | str) -> Rubric:
    """A rubric from YAML text (a file's, or the copy kept in a run manifest); `source` names it in errors."""
    data = _parse_yaml(text, source)
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(_describe_validation(exc, data), path=source,
                          fix="correct the fields named above (`grader rubric schema` prints "
                              "the full format)") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RubricError("no such file", path=path, fix="check the path to the rubric") from None
    except OSError as exc:
        raise RubricError(f"cannot read the file ({exc.strerror})", path=path,
                          fix="give a readable rubric YAML file") from None
    except UnicodeDecodeError as exc:
        raise RubricError(f"not UTF-8 text (byte {exc.start})", path=path,
                          fix="save the rubric as UTF-8") from None


def _parse_yaml(text: str, path: Path | str) -> Any:
    try:
        return yamlio.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise RubricError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path, where=where,
                          fix="correct the YAML syntax at that place") from None


def _describe_validation(exc: ValidationError, data: Any) -> str:
    lines = [f"{exc.error_count()} problem(s)"]
    for err in exc.errors():
        lines.append(f"at {_readable_location(err['loc'], data)}: {_readable_message(err)}")
    return "; ".join(lines)


def _readable_location(loc: tuple[Any, ...], data: Any) -> str:
    """`competencies[0].criteria[2].weight` plus the id of the item, when it has one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            label = node.get("id") if isinstance(node, dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{key}]" + (f" ({label})" if label else "")]
            continue
        node = node.get(key) if isinstance(node, dict) else None
        parts.append(str(key))
    return ".".join(parts) or "the top level"


def _readable_message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (a typo? see `grader rubric schema` for the allowed keys)"
    if kind == "missing":
        return "required field is missing"
    message = str(err["msg"])
    return message.removeprefix("Value error, ")
