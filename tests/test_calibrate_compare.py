"""`grader calibrate` and `grader compare` end to end on run stores with known levels, and their maths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from grader.agreement.calibration import Calibration, fit_calibration, fit_mapping
from grader.agreement.figures import paired_differences, verdict
from grader.cli.app import app
from grader.errors import GraderError
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus, LevelProbabilities
from grader.ingest.rubric import load_rubric
from grader.runs.store import RunStore

from .conftest import ROOT

RUBRIC = ROOT / "rubrics" / "mit-interview.yaml"
CRITERIA = [(comp.id, crit.id) for comp, crit in load_rubric(RUBRIC).criteria()]
GOLD_LEVELS = {f"{p}{i}": 1 + (i + (p == "pp")) % 5 for i in range(1, 13) for p in ("p", "pp")}


def counted(comp: str, crit: str, level: int, expected: float | None = None) -> CriterionGrade:
    probs = (LevelProbabilities(level=str(level), probs={str(lv): float(lv == level) for lv in range(1, 6)},
                                expected=expected, mass=0.9, top_logprobs=10) if expected is not None else None)
    return CriterionGrade(competency_id=comp, criterion_id=crit, status=GradeStatus.scored, level=level, model="m",
                          evidence=[Evidence(unit="1.1", turn=1, speaker="Sam", text="q")],
                          level_probs=probs)


def make_run(path, level_of) -> None:
    store = RunStore(path / "run.sqlite")
    store.set_meta({"model": "m", "prompt_version": "p/1"})
    for tid, gold in GOLD_LEVELS.items():
        for comp, crit in CRITERIA:
            level = level_of(gold)
            store.put(f"{tid}-{crit}", tid, counted(comp, crit, level, expected=level + 0.3))


def write_gold(path) -> None:
    header = "interview_id," + ",".join(crit for _, crit in CRITERIA)
    rows = [f"{tid}," + ",".join(str(g) for _ in CRITERIA) for tid, g in GOLD_LEVELS.items()]
    path.write_text("\n".join([header, *rows]) + "\n")


GOLD_ARGS = ["--rubric", str(RUBRIC), "--gold-id-column", "interview_id", "--group-pattern", r"\d+", "--n-boot", "50"]


def test_calibrate_fits_saves_and_reports_before_and_after(tmp_path):
    make_run(tmp_path / "soft", lambda g: min(g + 2, 5))  # grades two levels soft
    write_gold(tmp_path / "gold.csv")
    result = CliRunner().invoke(app, ["calibrate", "--run", str(tmp_path / "soft"), "--gold",
                                      str(tmp_path / "gold.csv"), "--out", str(tmp_path / "cal.json"), *GOLD_ARGS])
    assert result.exit_code == 0, result.output
    cal = Calibration.load(tmp_path / "cal.json")
    assert cal.model == "m" and cal.input == "stated" and set(cal.mappings) == {c for _, c in CRITERIA}
    assert [cal.apply("overall", v) for v in (3, 4)] == [1, 2]
    assert "before: stated" in result.output
    assert "after (held-out folds grouped by candidate): calibrated" in result.output
    assert "| overall (overall) | 120 / 120 |" in result.output


def test_calibration_of_expected_levels_needs_level_probabilities():
    pairs = __import__("pandas").DataFrame({"criterion_id": ["c"] * 10, "x": np.linspace(1.3, 5.3, 10),
                                            "gold": np.repeat([1, 2, 3, 4, 5], 2)})
    cal = fit_calibration(pairs, rubric_id="r", rubric_hash="h", model="m", prompt_version="p", input_kind="expected")
    with pytest.raises(GraderError, match="need level probabilities"):
        cal.check("h", "m", level_probs=False)
    grade = counted("comp", "c", 5, expected=1.3)
    assert cal.calibrate(grade).level == 1 and cal.calibrate(grade).raw_level == 5
    no_probs = counted("comp", "c", 5)
    assert cal.calibrate(no_probs).level == 5 and "not calibrated" in cal.calibrate(no_probs).reason
    with pytest.raises(GraderError, match="10 or more"):
        fit_calibration(pairs.head(3), rubric_id="r", rubric_hash="h", model="m", prompt_version="p",
                        input_kind="stated")


def test_compare_tells_a_real_improvement_from_noise(tmp_path):
    make_run(tmp_path / "a", lambda g: 6 - g)  # reversed: disagrees
    make_run(tmp_path / "b", lambda g: g)  # agrees
    write_gold(tmp_path / "gold.csv")
    result = CliRunner().invoke(app, ["compare", "--run-a", str(tmp_path / "a"), "--run-b", str(tmp_path / "b"),
                                      "--gold", str(tmp_path / "gold.csv"), "--out", str(tmp_path / "diff.csv"),
                                      *GOLD_ARGS])
    assert result.exit_code == 0, result.output
    assert "| overall (overall) | 120 | Cohen's kappa (quadratic) |" in result.output and "B better" in result.output
    assert "quadratic_kappa_score" not in result.output  # names for a reader; the CSV keeps the identifiers
    assert "quadratic_kappa_score" in (tmp_path / "diff.csv").read_text(encoding="utf-8")
    same = CliRunner().invoke(app, ["compare", "--run-a", str(tmp_path / "b"), "--run-b", str(tmp_path / "b"),
                                    "--gold", str(tmp_path / "gold.csv"), *GOLD_ARGS])
    assert "B better" not in same.output and "no clear difference" in same.output


def test_paired_difference_of_identical_runs_is_zero_and_of_better_run_positive():
    rng = np.random.default_rng(1)
    gold = rng.integers(1, 6, 60).astype(float)
    noisy = np.clip(gold + rng.integers(-2, 3, 60), 1, 5)
    groups = [str(i // 2) for i in range(60)]
    same = paired_differences(noisy, noisy, gold, groups, n_boot=100)
    kappa = same["quadratic_kappa_score"]
    assert kappa.value == 0 and verdict("quadratic_kappa_score", kappa) == "no clear difference"
    better = paired_differences(noisy, gold, gold, groups, n_boot=200)
    assert better["quadratic_kappa_score"].low > 0 and verdict("mean_absolute_error", better["mean_absolute_error"]) \
        == "B better"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)), min_size=6, max_size=30))
def test_paired_difference_is_antisymmetric(rows):
    a, b, gold = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    ab, ba = paired_differences(a, b, gold, n_boot=20), paired_differences(b, a, gold, n_boot=20)
    for name in ab:
        if ab[name].value is not None:
            assert ab[name].value == pytest.approx(-ba[name].value)


def test_isotonic_mapping_is_monotone():
    mapping = fit_mapping(np.array([1, 2, 3, 4, 5, 1, 2]), np.array([2, 1, 3, 5, 4, 2, 2]))
    assert [mapping.apply(v) for v in (1, 2, 3, 4, 5)] == sorted(mapping.apply(v) for v in (1, 2, 3, 4, 5))


def test_the_api_calibrates_compares_and_evaluates_with_progress(tmp_path):
    """What `grader calibrate`, `compare` and `eval` do is one call each of `grader.api`, reporting progress."""
    import grader

    make_run(tmp_path / "soft", lambda g: min(g + 2, 5))
    make_run(tmp_path / "exact", lambda g: g)
    write_gold(tmp_path / "gold.csv")
    spec = grader.GoldSpec(tmp_path / "gold.csv", id_column="interview_id", group_pattern=r"\d+")
    seen: list[tuple[int, int, str]] = []
    fitted = grader.calibrate(tmp_path / "soft", spec, tmp_path / "cal.json", rubric=RUBRIC, n_boot=20,
                              on_progress=lambda *step: seen.append(step))
    assert (tmp_path / "cal.json").is_file() and set(fitted.calibration.mappings) == {c for _, c in CRITERIA}
    assert [done for done, _, _ in seen] == list(range(1, len(seen) + 1)) and seen[-1][0] == seen[-1][1]
    assert any(line.startswith("after (held-out") for line in fitted.lines())
    seen.clear()
    change = grader.compare(tmp_path / "soft", tmp_path / "exact", spec, rubric=RUBRIC, n_boot=50,
                            on_progress=lambda *step: seen.append(step))
    overall = change.table[(change.table["scope"] == "overall")].set_index("figure")
    assert overall["difference"].notna().all() and seen[-1][0] == seen[-1][1] == len(CRITERIA) + 2
    seen.clear()
    result = grader.evaluation(tmp_path / "exact", spec, rubric=RUBRIC, n_boot=20, decisions=True,
                               on_progress=lambda *step: seen.append(step))
    assert seen[-1][0] == seen[-1][1] and not result.table.empty
