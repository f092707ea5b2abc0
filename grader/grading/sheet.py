"""ScoreSheet: every grade for one transcript against one rubric, with run metadata, as JSON and Markdown."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from grader.atomic import file_stem, write_text
from grader.escape import md, md_code
from grader.grading.aggregate import CompetencyResult
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus, RejectedCitation, Settings, Usage
from grader.grading.panel import PanelInfo
from grader.ingest.chunking import format_time
from grader.ingest.rubric import Criterion, Rubric
from grader.ingest.transcript import Transcript
from grader.llm.backend import BackendInfo
from grader.safety import IntegrityFinding


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
    panel: PanelInfo | None = Field(None, exclude_if=lambda v: v is None,
                                    description="samples per criterion, the judges and their rule (only with "
                                                "--samples above 1 or a judge panel; `backend` and `settings` are "
                                                "then the first judge's)")


FORMAT_VERSION = 2  # 2: evidence cited by unit id, the transcript's units on the sheet


class SheetCounts(BaseModel):
    evidence_cited: int = Field(0, description="cited units resolved to the candidate's sentences (with red flags)")
    citations_rejected: int = Field(0, description="cited ids that are not the candidate's sentences")
    reasks: int = 0
    scored: int = 0
    insufficient_evidence: int = 0
    unscored: int = 0
    needs_review: int = 0


class ScoreSheet(BaseModel):
    """All grades for one transcript against one rubric, with run metadata and the transcript they cite."""

    format_version: int = Field(FORMAT_VERSION, description="version of this JSON format")
    transcript_id: str
    source: str
    roles_by: str = Field(description="how many speakers got their role each way ('name (1), heuristic (1)'); "
                                      "who got which role, and why, is the transcript's `speaker_roles`")
    run: RunInfo
    competencies: list[CompetencyResult]
    grades: list[CriterionGrade]
    counts: SheetCounts = Field(default_factory=SheetCounts)
    transcript: Transcript = Field(description="turns and their units: every evidence id resolves here")
    integrity: list[IntegrityFinding] = Field(default_factory=list, description="text addressed to the grader: "
                                              "the sheet needs review and cannot pass automatically")

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != FORMAT_VERSION:
            raise ValueError(f"score sheet format {version} is not {FORMAT_VERSION}: regrade with this grader version")
        return version

    def write(self, out_dir: Path, rubric: Rubric, *, option: str | None = None) -> tuple[Path, Path]:
        """OUT/<stem>.json and .md, each whole or not at all (`grader.atomic`); `option` names OUT in an error."""
        stem = file_stem(self.transcript_id)  # one file per id: never a path, a hidden file or a device name
        json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
        write_text(json_path, self.model_dump_json(indent=2) + "\n", option=option)
        write_text(md_path, render_markdown(self, rubric), option=option)
        return json_path, md_path


def sheet_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a score sheet (`grader sheet schema`)."""
    schema = ScoreSheet.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"grader score sheet, format {FORMAT_VERSION}"
    return schema


def count_sheet(grades: list[CriterionGrade]) -> SheetCounts:
    return SheetCounts(
        evidence_cited=sum(len(g.quotes()) for g in grades),
        citations_rejected=sum(len(g.rejected) for g in grades),
        reasks=sum(g.reasks for g in grades),
        scored=sum(g.status is GradeStatus.scored for g in grades),
        insufficient_evidence=sum(g.status is GradeStatus.insufficient_evidence for g in grades),
        unscored=sum(g.status is GradeStatus.unscored for g in grades),
        needs_review=sum(g.needs_review for g in grades),
    )


_DECISION = {"pass": "PASS", "fail": "FAIL", "undetermined": "UNDETERMINED (needs review)"}


def render_markdown(sheet: ScoreSheet, rubric: Rubric) -> str:
    """The reviewer's view: decisions first, then each criterion with the level's anchor and the cited sentences.

    Every piece of text from the transcript, the model or the rubric is escaped (`grader.escape.md`).
    """
    run = sheet.run
    lines = [
        f"# Score sheet: {md(sheet.transcript_id)}",
        "",
        f"Rubric **{md(rubric.title)}** ({md_code(run.rubric_id)}, hash {run.rubric_hash}) · model "
        f"{md_code(run.backend.model)} at {md(run.backend.server)}"
        f"{' (embedded demo model: mechanics, not quality)' if run.backend.embedded else ''} · "
        f"prompt {md_code(run.prompt_version)} · {run.seconds:.0f} s · {run.usage.prompt_tokens} prompt + "
        f"{run.usage.completion_tokens} completion tokens",
        "",
        f"Citations of the candidate's sentences {sheet.counts.evidence_cited}, "
        f"citations rejected {sheet.counts.citations_rejected}, "
        f"re-asks {sheet.counts.reasks}; criteria scored {sheet.counts.scored}, insufficient evidence "
        f"{sheet.counts.insufficient_evidence}, unscored {sheet.counts.unscored}, needing review "
        f"{sheet.counts.needs_review}. Roles: {roles_line(sheet)}.",
        "",
        "Every quote below is a sentence of the candidate, cited by its id (`turn.n`) and shown in the "
        "transcript's own words. Whether it supports the level is for you to judge: compare it with the "
        "level's anchor.",
        "",
        "| Competency | Score | Range | Minimum | Decision | Red flags |",
        "|---|---|---|---|---|---|",
    ]
    for comp in sheet.competencies:
        score = f"{comp.score:.2f}" if comp.score is not None else "—"
        lines.append(f"| {md(comp.name)} | {score} | {comp.score_low:.2f}–{comp.score_high:.2f} | "
                     f"{comp.min_passing_score:g} | {_DECISION[comp.decision.value]} | {len(comp.red_flags)} |")
    if run.panel is not None:
        lines += ["", f"Samples and judges: {md(run.panel.describe())}. Every sample is verified as a single grade "
                  "is; a sample or judge that failed has no level and is never counted."]
    lines += ["", "Score: weighted mean of the criteria that count (scored, citing at least one sentence of the "
              "candidate). Range: missing criteria at level 1 and at level 5; the decision is certain only when "
              "the whole range is on one side of the minimum.", ""]
    lines += _integrity_lines(sheet)
    grades = {g.criterion_id: g for g in sheet.grades}
    for comp in rubric.competencies:
        lines += [f"## {md(comp.name)}", ""]
        for crit in comp.criteria:
            lines += _criterion_lines(crit, grades.get(crit.id))
    return "\n".join(lines).rstrip() + "\n"


def roles_line(sheet: ScoreSheet) -> str:
    """Who got which role and why (`Dana Reyes = candidate (named with --candidate), ...`), escaped.

    A sheet written before speakers' roles were recorded has only the counts (`name (1), heuristic (1)`).
    """
    assigned = sheet.transcript.speaker_roles
    return ", ".join(md(a.describe()) for a in assigned) if assigned else md(sheet.roles_by)


def _integrity_lines(sheet: ScoreSheet) -> list[str]:
    if not sheet.integrity:
        return []
    lines = ["## ⚠ Integrity findings: text addressed to the grader", "",
             "This transcript contains text that addresses the grader or tries to steer the score. It needs "
             "review, and no competency passes automatically (a pass is shown as undetermined).", ""]
    lines += [f"- {md(f.unit)} ({f.kind}): \"{md(f.matched)}\" — {md(f.explanation)}" for f in sheet.integrity]
    return [*lines, ""]


def _criterion_lines(crit: Criterion, grade: CriterionGrade | None) -> list[str]:
    name = f"{md(crit.name)} (weight {crit.weight:g})"
    if grade is None:
        return [f"### {name}: not graded", ""]
    calibrated = f" (model said {grade.raw_level}, calibrated)" if grade.raw_level is not None else ""
    head = {GradeStatus.scored: f"level {grade.level}{calibrated}",
            GradeStatus.insufficient_evidence: "insufficient evidence",
            GradeStatus.unscored: "UNSCORED"}[grade.status]
    flag = " ⚠ needs review" if grade.needs_review else ""
    lines = [f"### {name}: {head}{flag}", ""]
    if grade.level is not None:
        lines += [f"*Level {grade.level} anchor:* {md(crit.levels[grade.level])}", ""]
    if grade.reason:
        lines += [f"> {md(grade.reason)}", ""]
    if grade.aggregation is not None:
        lines += [_aggregation_line(grade), ""]
    if grade.rationale:
        lines += [md(grade.rationale), ""]
    lines += [f"- ✓ {_quote(e)}" for e in grade.evidence]
    lines += [f"- 🚩 {md(f.flag_id)}: {md(f.flag)} — {'; '.join(_quote(e) for e in f.evidence)}"
              for f in grade.red_flags]
    lines += [f"- ✗ rejected: {_rejected(r)}" for r in grade.rejected]
    return [*lines, ""]


def _aggregation_line(grade: CriterionGrade) -> str:
    """Each judge's level (with its samples' levels) and how they became the grade's, on one line."""
    agg = grade.aggregation
    assert agg is not None
    parts = []
    for judge in agg.judges:
        levels = [s for s in grade.samples if s.judge == judge.judge]
        shown = ", ".join(str(s.level) if s.counts else _no_level(s.status.value, s.level) for s in levels)
        own = str(judge.level) if judge.level is not None else _no_level(judge.status, None)
        parts.append(f"{md(judge.judge)} {own}" + (f" (samples {shown})" if len(levels) > 1 else ""))
    spread = f"; spread {agg.spread} (review above {agg.max_spread})" if agg.spread is not None else ""
    return f"*Samples and judges:* {'; '.join(parts)}. {md(agg.summary[:1].upper() + agg.summary[1:])}{spread}."


def _no_level(status: str, level: int | None) -> str:
    if status == "unscored":
        return "failed"
    if level is not None or status == "no_verified_evidence":
        return f"{level if level is not None else 'a level'} citing no sentence"
    return "insufficient evidence"


def _quote(ev: Evidence) -> str:
    when = f", {format_time(ev.start)}" if ev.start is not None else ""
    note = f" — model's note: {md(ev.note)}" if ev.note else ""
    return f"\"{md(ev.text)}\" ({ev.unit}, {md(ev.speaker)}, turn {ev.turn}{when}){note}"


def _rejected(r: RejectedCitation) -> str:
    what = " ".join(x for x in (f"red flag {md(r.flag_id)}" if r.flag_id else "", md(r.unit) if r.unit else "") if x)
    return f"{what}: {md(r.reason)}"
