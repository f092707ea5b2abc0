"""Exemplars picked from a run's reviewed grades, or from a gold file's levels (`grader exemplars`).

    picked = select_exemplars("runs/june", "exemplars.yaml", per_level=3, group_pattern="[0-9]+")
    picked = select_exemplars("runs/mit", "exemplars.yaml", gold=GoldSpec(Path("ratings.csv"), scale="1,7"))
    with Grader("mit-interview", options=GradingOptions(exemplars="exemplars.yaml", exemplars_k=1)) as g: ...

The rules (what qualifies, the order, what a graded transcript is never shown) are in
`grader.grading.exemplars`.
"""

from __future__ import annotations

from pathlib import Path

from grader.agreement.spec import GoldSpec
from grader.errors import GraderError
from grader.grading.exemplars import DEFAULT_PER_LEVEL, ExemplarSet, ReviewedGrade, choose_exemplars
from grader.grading.sheet import ScoreSheet
from grader.runs.folder import RunFolder, RunRecord, as_folder


def select_exemplars(run: str | Path | RunFolder, out: str | Path | None = None, *,
                     per_level: int = DEFAULT_PER_LEVEL, group_pattern: str | None = None,
                     rubric: str | Path | None = None, gold: GoldSpec | None = None) -> ExemplarSet:
    """Exemplars per criterion and level, at most `per_level` each, with the sentences each grade cited; written
    to `out` (YAML, or JSON for a `.json` name) when given.

    Without `gold`, from the run's reviews: grades whose current review confirmed or overrode the model's level
    (or an adjudicator resolved). With `gold` (read as `grader eval --gold` reads it: a CSV, or a run folder's
    a run folder is refused: pick from its reviews without `gold`), from the gold's consensus level of each item the
    run graded: a confirmation where it equals the model's level, an override otherwise; the gold rows left out are
    counted in `left_out`. `group_pattern` (a regex for the candidate in a transcript id, as
    `grader eval --group-pattern`; for gold, the spec's pattern when not given) is stored in the file: a
    transcript is never shown its candidate's own exemplars. The rubric is the run's own (`rubric`: a checked
    override, or the rubric of a run graded before manifests)."""
    folder = as_folder(run)
    if gold is not None:
        _check_gold_file(gold)
        group_pattern = group_pattern or gold.group_pattern
    left_out: dict[str, int] = {}
    with folder.read() as record:
        checked = record.rubric(rubric)
        decisions = _gold_decisions(folder, gold, rubric, left_out) if gold is not None \
            else _review_decisions(folder)
        sheets = _sheets(record, {d.transcript_id for d in decisions})
    chosen = choose_exemplars(decisions, sheets, checked, run=str(folder.path), per_level=per_level,
                              group_pattern=group_pattern, gold=str(gold.path) if gold is not None else None)
    if left_out:
        chosen = chosen.model_copy(update={"left_out": dict(sorted({**chosen.left_out, **left_out}.items()))})
    if out is not None:
        if not chosen.exemplars:
            _nothing_to_pick(chosen, folder, gold)
        chosen.save(Path(out))
    return chosen


def _check_gold_file(gold: GoldSpec) -> None:
    """A run folder is not a gold file here: its reviews are picked without --gold, and their median would make
    an exemplar of a level that no reviewer gave where two disagree."""
    if RunFolder(gold.path).is_run():
        raise GraderError("--gold names a run folder; exemplars from its reviews are picked without --gold (a "
                          "disputed item is then left out, never given the median of its reviewers)",
                          path=gold.path, where="--gold", fix=f"run grader exemplars {gold.path} --out FILE, or give "
                                                              "a gold CSV")


def _nothing_to_pick(chosen: ExemplarSet, folder: RunFolder, gold: GoldSpec | None) -> None:
    if gold is not None:
        reasons = "; ".join(f"{reason}: {n}" for reason, n in chosen.left_out.items()) or "no gold level"
        raise GraderError(f"no graded item of this run with a gold level can be an exemplar ({reasons}), so no "
                          "file was written", path=folder.path, fix="check that the gold file's ids and criteria "
                          "match the run's (--gold-id-column names its id column)")
    reasons = "; ".join(f"{reason}: {n}" for reason, n in chosen.left_out.items()) or "no reviews"
    raise GraderError(f"no reviewed grade of this run can be an exemplar ({reasons}), so no file was written",
                      path=folder.path, fix="confirm or override grades first (grader review RUN), or take the "
                                            "levels from a gold file (--gold FILE)")


def _review_decisions(folder: RunFolder) -> list[ReviewedGrade]:
    """The current review of each reviewed item; contested when reviewers' current labels differ, unresolved."""
    from grader.runs.reviews import current_by_reviewer, current_decisions

    reviews = folder.reviews()
    try:
        rows = reviews.reviews()
    finally:
        reviews.close()
    labels: dict[tuple[str, str], set[tuple[str, int | None]]] = {}
    for (tid, cid, _), label in current_by_reviewer(rows).items():
        labels.setdefault((tid, cid), set()).add((label.status_after, label.level_after))
    return [ReviewedGrade(transcript_id=tid, criterion_id=cid, action=r.action.value, review_id=r.id,
                          level=r.level_after if r.status_after == "scored" else None,
                          contested=r.action.value != "adjudicate" and len(labels.get((tid, cid), ())) > 1)
            for (tid, cid), r in current_decisions(rows).items()]


def _gold_decisions(folder: RunFolder, gold: GoldSpec, rubric: str | Path | None,
                    left_out: dict[str, int]) -> list[ReviewedGrade]:
    """Each item's gold consensus level (as `grader eval` computes it) against the model's counted level; the gold
    rows left out (not in the run, no score, off the scale) are counted into `left_out` by their reason."""
    import pandas as pd

    from grader.agreement.evaluate import KEYS, consensus
    from grader.agreement.load import load_run

    loaded = load_run(folder, gold, rubric)
    for problem in loaded.gold.problems:
        reason = _gold_reason(problem.problem)
        left_out[reason] = left_out.get(reason, 0) + 1
    with loaded.run:
        joined = consensus(loaded.gold).merge(loaded.model[[*KEYS, "level"]], on=KEYS, how="left")
    decisions = []
    for row in joined.dropna(subset=["gold"]).itertuples(index=False):
        level = int(row.gold)
        model = None if pd.isna(row.level) else int(row.level)
        decisions.append(ReviewedGrade(transcript_id=str(row.transcript_id), criterion_id=str(row.criterion_id),
                                       level=level, action="confirm" if model == level else "override",
                                       review_id=None, source="gold"))
    return decisions


_GOLD_REASONS = {
    "not in the run": "gold row: transcript not in the run",
    "not a number": "gold row: score not a number",
    "outside the scale": "gold row: score outside the scale",
    "unknown criterion": "gold row: unknown criterion",
    "duplicate": "gold row: a duplicate",
}


def _gold_reason(problem: str) -> str:
    """A gold row's problem (`grader.agreement.gold`), as a reason to count (without the row's own values)."""
    return next((reason for key, reason in _GOLD_REASONS.items() if key in problem), "gold row: left out")


def _sheets(record: RunRecord, transcript_ids: set[str]) -> dict[str, ScoreSheet]:
    """The finished score sheets of these transcripts (a transcript without one is left out by the picking)."""
    sheets = {}
    for tid in sorted(transcript_ids):
        found = record.store.sheet_json(tid)
        if found is not None:
            sheets[tid] = ScoreSheet.model_validate_json(found[0])
    return sheets
