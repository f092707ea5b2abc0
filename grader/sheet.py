"""ScoreSheet: every grade for one transcript against one rubric, with run metadata, as JSON and Markdown."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from grader.aggregate import CompetencyResult
from grader.backend import BackendInfo
from grader.chunking import format_time
from grader.grades import CriterionGrade, Evidence, GradeStatus, Usage
from grader.rubric import Rubric
from grader.scoring import Settings


class RunInfo(BaseModel):
    grader_version: str
    backend: BackendInfo
    settings: Settings
    prompt_version: str
    prompt_sha256: str
    rubric_id: str
    rubric_hash: str
    transcript_hash: str
    token_counter: str
    chunks: int
    started_at: datetime
    seconds: float
    usage: Usage
    calibration: dict[str, str] | None = None


class SheetCounts(BaseModel):
    quotes_verified: int = 0
    quotes_rejected: int = 0
    reasks: int = 0
    scored: int = 0
    insufficient_evidence: int = 0
    unscored: int = 0
    needs_review: int = 0


class ScoreSheet(BaseModel):
    transcript_id: str
    source: str
    roles_by: str
    run: RunInfo
    competencies: list[CompetencyResult]
    grades: list[CriterionGrade]
    counts: SheetCounts = Field(default_factory=SheetCounts)

    def write(self, out_dir: Path, rubric: Rubric) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path = out_dir / f"{self.transcript_id}.json"
        md_path = out_dir / f"{self.transcript_id}.md"
        json_path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        md_path.write_text(render_markdown(self, rubric), encoding="utf-8")
        return json_path, md_path


def count_sheet(grades: list[CriterionGrade]) -> SheetCounts:
    return SheetCounts(
        quotes_verified=sum(len(g.evidence) + len(g.red_flags) for g in grades),
        quotes_rejected=sum(len(g.rejected) for g in grades),
        reasks=sum(g.reasks for g in grades),
        scored=sum(g.status is GradeStatus.scored for g in grades),
        insufficient_evidence=sum(g.status is GradeStatus.insufficient_evidence for g in grades),
        unscored=sum(g.status is GradeStatus.unscored for g in grades),
        needs_review=sum(g.needs_review for g in grades),
    )


_DECISION = {"pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED (needs review)"}


def render_markdown(sheet: ScoreSheet, rubric: Rubric) -> str:
    """The reviewer's view: decisions first, then each criterion with its quotes and problems."""
    run = sheet.run
    lines = [
        f"# Score sheet: {sheet.transcript_id}",
        "",
        f"Rubric **{rubric.title}** (`{run.rubric_id}`, hash {run.rubric_hash}) · model `{run.backend.model}` "
        f"at {run.backend.server}{' (embedded demo model: mechanics, not quality)' if run.backend.embedded else ''} · "
        f"prompt `{run.prompt_version}` · {run.seconds:.0f} s · {run.usage.prompt_tokens} prompt + "
        f"{run.usage.completion_tokens} completion tokens",
        "",
        f"Quotes verified {sheet.counts.quotes_verified}, rejected {sheet.counts.quotes_rejected}, "
        f"re-asks {sheet.counts.reasks}; criteria scored {sheet.counts.scored}, insufficient evidence "
        f"{sheet.counts.insufficient_evidence}, unscored {sheet.counts.unscored}, needing review "
        f"{sheet.counts.needs_review}. Roles: {sheet.roles_by}.",
        "",
        "| Competency | Score | Range | Minimum | Decision | Red flags |",
        "|---|---|---|---|---|---|",
    ]
    for comp in sheet.competencies:
        score = f"{comp.score:.2f}" if comp.score is not None else "—"
        lines.append(f"| {comp.name} | {score} | {comp.score_low:.2f}–{comp.score_high:.2f} | "
                     f"{comp.min_passing_score:g} | {_DECISION[comp.decision.value]} | {len(comp.red_flags)} |")
    lines += ["", "Score: weighted mean of the criteria that count (scored with verified evidence). Range: "
              "missing criteria at level 1 and at level 5; the decision is certain only when the whole range "
              "is on one side of the minimum.", ""]
    grades = {g.criterion_id: g for g in sheet.grades}
    for comp in rubric.competencies:
        lines += [f"## {comp.name}", ""]
        for crit in comp.criteria:
            lines += _criterion_lines(crit.name, crit.weight, grades.get(crit.id))
    return "\n".join(lines).rstrip() + "\n"


def _criterion_lines(name: str, weight: float, grade: CriterionGrade | None) -> list[str]:
    if grade is None:
        return [f"### {name} (weight {weight:g}): not graded", ""]
    calibrated = f" (model said {grade.raw_level}, calibrated)" if grade.raw_level is not None else ""
    head = {GradeStatus.scored: f"level {grade.level}{calibrated}",
            GradeStatus.insufficient_evidence: "insufficient evidence",
            GradeStatus.unscored: "UNSCORED"}[grade.status]
    flag = " ⚠ needs review" if grade.needs_review else ""
    lines = [f"### {name} (weight {weight:g}): {head}{flag}", ""]
    if grade.reason:
        lines += [f"> {grade.reason}", ""]
    if grade.rationale:
        lines += [grade.rationale, ""]
    lines += [f"- ✓ {_quote(e)}" for e in grade.evidence]
    lines += [f"- 🚩 {f.flag_id}: {f.flag} — {_quote(f.evidence)}" for f in grade.red_flags]
    lines += [f"- ✗ rejected: \"{e.quote}\" (cited turn {e.cited_turn}): {e.note}" for e in grade.rejected]
    return [*lines, ""]


def _quote(ev: Evidence) -> str:
    when = f", {format_time(ev.start)}" if ev.start is not None else ""
    match = "" if ev.match.value == "exact" else f", {ev.match.value} match {ev.similarity:.0f}"
    note = f"; {ev.note}" if ev.note else ""
    return f"\"{ev.quote}\" (turn {ev.turn}{when}{match}{note})"
