"""Exemplars from reviewed gold (issue 20, item 5): reviewed grades shown to the model as examples of the levels.

**Picking them** (`choose_exemplars`, behind `grader exemplars RUN --out FILE`). A grade qualifies when its
current review (`grader.runs.reviews.current_decisions`) confirmed or overrode the model's level, or an
adjudicator resolved it, with a level; or, with `--gold FILE`, when a gold file (read as `grader eval` reads
it) gives the item a consensus level: it confirms the model's level when they are equal and overrides it
otherwise. The exemplar's level is the reviewed (or gold) level, and its sentences are the
ones the grade cited, each the transcript's own text taken from the score sheet by unit id. Left out (and
counted in the file's `left_out`): a review without a level (insufficient evidence), an item whose
reviewers disagree and no adjudicator resolved, a grade that cites no sentence, a transcript without a
finished sheet. Per criterion and level at most `per_level` are kept, in a fixed order: a hash of
(criterion, level, transcript id) ranks the qualifying grades, a first pass takes at most one per candidate
(so that leaving one candidate out still leaves others to show), a second fills up from the rest. The same
run and reviews always give the same file, whatever order they were stored in.

**The file** (YAML, or JSON for a `.json` name; `ExemplarSet`) records the run, the rubric (id and hash),
the group pattern, and for every exemplar its transcript id, candidate group, transcript hash, criterion,
level, the model's level, the review, and its sentences (their text, and the same text redacted as a
request with `--redact` would send it: speakers, other people, contact data and organisations replaced).
Its hash (`ExemplarSet.sha256`) is of the rubric hash and the exemplars (not the run's path or the
review rows' ids: the same reviews stored in another order give the same hash).

Showing them (`--exemplars FILE`) is `grader.grading.exemplar_block`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader import yamlio
from grader.atomic import write_text
from grader.errors import GraderError, validation_problems
from grader.grading.grades import Level
from grader.grading.guard import transcript_redactor
from grader.grading.sheet import ScoreSheet
from grader.ingest.rubric import Rubric
from grader.safety import Redactor

EXEMPLARS_FORMAT = 1
DEFAULT_PER_LEVEL = 3  # picked per criterion and level by `grader exemplars`
MAX_PER_LEVEL = 20
LEVELS = (1, 2, 3, 4, 5)
REVIEWED = ("confirm", "override", "adjudicate")
Action = Literal["confirm", "override", "adjudicate"]
Source = Literal["review", "gold"]


# ---- the file ------------------------------------------------------------------------------------------------------

class ExemplarSentence(BaseModel):
    """One sentence the reviewed grade cited: the transcript's own text (unit ids are never shown to the model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    unit: str = Field(description="the unit's id in its transcript, `<turn>.<n>`")
    text: str = Field(description="the unit's exact text, from the score sheet's transcript")
    redacted: str = Field(description="the text as a redacted request sends it (speakers, other people, contact "
                                      "data and organisations replaced)")


class Exemplar(BaseModel):
    """A reviewed grade: its criterion, the reviewed level, and the sentences the grade cited."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    transcript_id: str
    group: str = Field(description="the candidate: the group pattern's match in the transcript id, else the id")
    transcript_hash: str = Field(description="the transcript's content hash (the same text under another id is "
                                             "left out too)")
    competency_id: str
    criterion_id: str
    level: Level = Field(description="the reviewed level: the exemplar's level")
    model_level: Level | None = Field(None, description="the model's level the review saw (None: no level)")
    action: Action = Field(description="confirm, override, or adjudicate (reviewers who disagreed, resolved); from a "
                                       "gold file: confirm when the gold level is the model's, else override")
    review_id: int | None = Field(None, description="the review's row in the run (None: a gold file's label)")
    source: Source = Field("review", description="review: the run's reviews; gold: a gold file's consensus level")
    sentences: list[ExemplarSentence] = Field(min_length=1)


class ExemplarSet(BaseModel):
    """What `grader exemplars` writes and `--exemplars` reads: exemplars per criterion and level, in their order."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    format_version: Literal[1] = EXEMPLARS_FORMAT
    run: str = Field(description="the run folder whose grades they come from")
    gold: str | None = Field(None, description="the gold file whose levels they carry (None: the run's reviews)")
    rubric_id: str
    rubric_hash: str
    group_pattern: str | None = Field(None, description="regex for the candidate in a transcript id (as grader eval "
                                                        "--group-pattern); None: each transcript is its own")
    per_level: int = Field(description="at most this many per criterion and level")
    exemplars: list[Exemplar]
    left_out: dict[str, int] = Field(default_factory=dict, description="reviewed grades not taken, by reason")

    def sha256(self) -> str:
        """The set's hash: of the rubric hash and the exemplars (not of where they came from: the run, the review's
        row id)."""
        body = {"rubric_hash": self.rubric_hash,
                "exemplars": [e.model_dump(mode="json", exclude={"review_id", "source"}) for e in self.exemplars]}
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    def counts(self) -> dict[str, dict[int, int]]:
        """criterion id -> level -> how many exemplars."""
        found: dict[str, dict[int, int]] = {}
        for e in self.exemplars:
            found.setdefault(e.criterion_id, {}).setdefault(e.level, 0)
            found[e.criterion_id][e.level] += 1
        return found

    def save(self, path: Path, *, option: str = "--out") -> Path:
        """Write the set as YAML (`.yaml`, `.yml`) or JSON (`.json`), whole or not at all."""
        kind = _kind(path, option)
        data = self.model_dump(mode="json")
        text = (json.dumps(data, indent=2, ensure_ascii=False) + "\n" if kind == "json"
                else yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
        write_text(path, text, option=option)
        return path


def _kind(path: Path, option: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    raise GraderError(f"an exemplars file is YAML or JSON, and {path.name!r} is neither by its name", path=path,
                      where=option, fix="name it exemplars.yaml (or .json)")


def load_exemplars(path: str | Path, *, option: str = "--exemplars") -> ExemplarSet:
    """An exemplars file (YAML or JSON), validated; a clear error naming the file otherwise."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix.lower() == ".json" else yamlio.load(raw)
        return ExemplarSet.model_validate(data)
    except FileNotFoundError:
        raise GraderError("no such exemplars file", path=path, where=option,
                          fix="write one with `grader exemplars RUN --out FILE`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"cannot read the exemplars file ({exc})", path=path, where=option,
                          fix="give a readable YAML or JSON file written by `grader exemplars`") from None
    except (yaml.YAMLError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
        problem = _validation_problem(exc) if isinstance(exc, ValidationError) else " ".join(str(exc).split())[:300]
        raise GraderError(f"not an exemplars file ({problem})", path=path, where=option,
                          fix="give the file `grader exemplars RUN --out FILE` wrote (format_version 1)") from None


def _validation_problem(exc: ValidationError) -> str:
    return "; ".join(validation_problems(exc.errors(), top="file"))


# ---- who a candidate is --------------------------------------------------------------------------------------------

def check_group_pattern(pattern: str | None, option: str = "--exemplars-group-pattern") -> str | None:
    """The pattern, once it is known to compile."""
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise GraderError(f"not a regular expression: {pattern!r} ({exc})", where=option,
                              fix="e.g. '\\d+' finds the candidate number in an id (p12 and pp12: candidate 12)") \
                from None
    return pattern or None


def candidate_group(transcript_id: str, pattern: str | None) -> str:
    """The candidate a transcript belongs to: the pattern's first match in the id, else the id (the rule of
    `grader eval --group-pattern`, `grader.agreement.gold`)."""
    if not pattern:
        return transcript_id
    found = re.search(pattern, transcript_id)
    return found.group(0) if found else transcript_id


# ---- picking -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewedGrade:
    """The current decision on one criterion of one transcript, as picking needs it."""

    transcript_id: str
    criterion_id: str
    level: int | None  # the reviewed level; None: reviewed without one (insufficient evidence)
    action: str  # confirm, override or adjudicate
    review_id: int | None  # None: a gold file's label
    contested: bool = False  # the reviewers' current labels disagree, and no adjudicator resolved them
    source: Source = "review"


@dataclass
class _Tally:
    left_out: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1


def choose_exemplars(decisions: Iterable[ReviewedGrade], sheets: Mapping[str, ScoreSheet], rubric: Rubric, *,
                     run: str, per_level: int = DEFAULT_PER_LEVEL, group_pattern: str | None = None,
                     gold: str | None = None) -> ExemplarSet:
    """At most `per_level` exemplars per criterion and level from the reviewed grades (see the module's text)."""
    if not 1 <= per_level <= MAX_PER_LEVEL:
        raise GraderError(f"--per-level {per_level} is outside 1..{MAX_PER_LEVEL}", where="--per-level",
                          fix="give e.g. --per-level 3")
    group_pattern = check_group_pattern(group_pattern, "--group-pattern")
    tally = _Tally()
    competency_of = {crit.id: comp.id for comp, crit in rubric.criteria()}
    pool: dict[tuple[str, int], list[Exemplar]] = {}
    redactors: dict[str, Redactor] = {}
    for decision in sorted(decisions, key=lambda d: (d.transcript_id, d.criterion_id)):
        exemplar = _exemplar(decision, sheets, competency_of, group_pattern, redactors, tally)
        if exemplar is not None:
            pool.setdefault((exemplar.criterion_id, exemplar.level), []).append(exemplar)
    chosen = []
    for _, crit in rubric.criteria():
        for level in LEVELS:
            ranked = sorted(pool.get((crit.id, level), []), key=lambda e: _rank(e.criterion_id, e.level,
                                                                                e.transcript_id))
            picked = _spread_over_candidates(ranked, per_level)
            for _ in range(len(ranked) - len(picked)):
                tally.add(f"more than --per-level {per_level} for the criterion and level")
            chosen += picked
    return ExemplarSet(run=run, gold=gold, rubric_id=rubric.id, rubric_hash=rubric.content_hash(),
                       group_pattern=group_pattern, per_level=per_level, exemplars=chosen,
                       left_out=dict(sorted(tally.left_out.items())))


def _exemplar(decision: ReviewedGrade, sheets: Mapping[str, ScoreSheet], competency_of: dict[str, str],
              group_pattern: str | None, redactors: dict[str, Redactor], tally: _Tally) -> Exemplar | None:
    if decision.action not in REVIEWED:
        tally.add(f"review action {decision.action}")
        return None
    if decision.criterion_id not in competency_of:
        tally.add("not a criterion of the run's rubric")
        return None
    if decision.level is None:
        tally.add("reviewed without a level (insufficient evidence)")
        return None
    if decision.contested:
        tally.add("reviewers disagree and no adjudicator resolved it")
        return None
    sheet = sheets.get(decision.transcript_id)
    if sheet is None:
        tally.add("no finished score sheet for the transcript")
        return None
    grade = next((g for g in sheet.grades if g.criterion_id == decision.criterion_id), None)
    units = sheet.transcript.unit_index
    cited = list(dict.fromkeys(e.unit for e in (grade.evidence if grade else []) if e.unit in units))
    if not cited:
        tally.add("the grade cites no sentence of the candidate")
        return None
    redactor = redactors.get(sheet.transcript_id)
    if redactor is None:
        redactor = redactors[sheet.transcript_id] = transcript_redactor(sheet.transcript, redact_orgs=True)
    sentences = [ExemplarSentence(unit=uid, text=units[uid][1].text,
                                  redacted=redactor.redact(units[uid][1].text))
                 for uid in cited]
    return Exemplar(transcript_id=decision.transcript_id, group=candidate_group(decision.transcript_id, group_pattern),
                    transcript_hash=sheet.transcript.content_hash(), competency_id=competency_of[decision.criterion_id],
                    criterion_id=decision.criterion_id, level=decision.level,  # type: ignore[arg-type]
                    model_level=grade.level if grade else None, action=decision.action,  # type: ignore[arg-type]
                    review_id=decision.review_id, source=decision.source, sentences=sentences)


def _rank(criterion_id: str, level: int, transcript_id: str) -> str:
    """A fixed order that depends on no id's spelling or storage order (ids named p1, p2 ... are not favoured)."""
    return hashlib.sha256(f"{criterion_id}\0{level}\0{transcript_id}".encode()).hexdigest()


def _spread_over_candidates(ranked: list[Exemplar], limit: int) -> list[Exemplar]:
    """The first `limit` of `ranked`, taking at most one per candidate before a second of any."""
    first, rest, seen = [], [], set()
    for e in ranked:
        (rest if e.group in seen else first).append(e)
        seen.add(e.group)
    return (first + rest)[:limit]
