"""Test-retest reliability (grader/agreement/reliability.py): figures on known data, undefined cases with
their reasons, ICC(2,1) against pingouin, and `grader eval --run A --retest B` end to end."""

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from grader.agreement.reliability import COLUMNS, icc_2_1, long_levels, reliability_table
from grader.cli.app import app
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus
from grader.ingest.rubric import load_rubric
from grader.runs.store import RunStore

from .conftest import ROOT

RUBRIC_PATH = ROOT / "rubrics" / "mit-interview.yaml"
RUBRIC = load_rubric(RUBRIC_PATH)
CRITERIA = [(comp.id, crit.id) for comp, crit in RUBRIC.criteria()]


def levels_of(n: int, seed: int = 0) -> pd.DataFrame:
    """Run A: n transcripts, every criterion, levels drawn at random (every level used)."""
    rng = np.random.default_rng(seed)
    rows = [(f"t{i}", crit, float(rng.integers(1, 6))) for i in range(n) for _, crit in CRITERIA]
    return pd.DataFrame(rows, columns=["transcript_id", "criterion_id", "level"])


def table(a: pd.DataFrame, b: pd.DataFrame, **options) -> pd.DataFrame:
    return reliability_table(long_levels({"A": a, "B": b}), RUBRIC, n_boot=options.pop("n_boot", 100), **options)


def scope(found: pd.DataFrame, name: str = "overall", kind: str = "overall") -> pd.Series:
    return found[(found["scope"] == name) & (found["kind"] == kind)].iloc[0]


# ---- figures on known data ------------------------------------------------------------------------------------------

def test_identical_runs_agree_perfectly():
    a = levels_of(20)
    found = table(a, a.copy())
    assert len(found) == len(CRITERIA) + len(RUBRIC.competencies) + 1  # every criterion, competency and overall
    for _, row in found.iterrows():
        assert row["quadratic_kappa_score"] == pytest.approx(1.0)
        assert row["icc"] == pytest.approx(1.0) and (row["icc_low"], row["icc_high"]) == (1.0, 1.0)
        assert row["krippendorff_alpha"] == pytest.approx(1.0)
        assert row["changed_share"] == 0 and row["changed"] == 0
        assert (row["changed_share_low"], row["changed_share_high"]) == (0.0, 0.0)
        assert row["paired"] == row["items"] == row["complete"] and row["only_a"] == row["only_b"] == 0


def test_reversed_runs_disagree():
    a = levels_of(30)
    found = table(a, a.assign(level=6 - a["level"]))
    overall = scope(found)
    assert overall["quadratic_kappa_score"] < -0.5 and overall["quadratic_kappa_score_high"] < 0
    assert overall["icc"] < -0.5 and overall["icc_high"] < 0
    assert overall["krippendorff_alpha"] < 0
    assert overall["changed_share"] == pytest.approx(float((a["level"] != 3).mean()))


def test_one_changed_item_and_missing_levels_are_counted():
    a = levels_of(10)
    b = a.copy()
    b.loc[0, "level"] = a.loc[0, "level"] % 5 + 1  # one item changed
    b.loc[1, "level"] = np.nan  # a grade without a level in B (insufficient evidence, say)
    b = b.drop(index=2)  # an item B never graded
    a.loc[3, "level"] = np.nan  # a grade without a level in A
    found = table(a, b)
    overall = scope(found)
    items = len(a)
    assert overall["items"] == items and overall["paired"] == items - 3
    assert (overall["only_a"], overall["only_b"], overall["neither"]) == (2, 1, 0)
    assert overall["changed"] == 1 and overall["changed_share"] == pytest.approx(1 / (items - 3))
    assert overall["changed_share_low"] == 0 and 0 < overall["changed_share_high"] < 0.2
    assert 0.9 < overall["quadratic_kappa_score"] < 1 and 0.9 < overall["icc"] < 1
    first = a.loc[0, "criterion_id"]
    criterion = scope(found, first, "criterion")
    assert criterion["paired"] == 10 and criterion["changed"] == 1 and criterion["changed_share"] == 0.1


def test_more_raters_than_a_pair():
    a = levels_of(15)
    b = a.assign(level=np.where(np.arange(len(a)) % 7 == 0, a["level"] % 5 + 1, a["level"]))
    c = a.assign(level=np.where(np.arange(len(a)) % 5 == 0, a["level"] % 5 + 1, a["level"]))
    levels = long_levels({"A": a, "B": b, "C": c})
    overall = scope(reliability_table(levels, RUBRIC, n_boot=50))
    pair = scope(reliability_table(levels[levels["rater"] != "C"], RUBRIC, n_boot=50))
    assert overall["raters"] == 3 and pair["raters"] == 2
    # kappa and the changed share pair A with B; ICC and alpha take every rater
    assert overall["quadratic_kappa_score"] == pair["quadratic_kappa_score"]
    assert overall["changed_share"] == pair["changed_share"]
    assert overall["icc"] < pair["icc"] and overall["krippendorff_alpha"] < pair["krippendorff_alpha"]


def test_groups_keep_a_candidates_transcripts_together():
    a = levels_of(12, seed=3)
    b = a.assign(level=np.clip(a["level"] + np.random.default_rng(4).integers(-1, 2, len(a)), 1, 5))
    by_item = scope(table(a, b, n_boot=200))
    groups = {f"t{i}": f"c{i // 4}" for i in range(12)}  # three candidates of four interviews
    by_candidate = scope(table(a, b, n_boot=200, groups=groups))
    assert by_item["quadratic_kappa_score"] == by_candidate["quadratic_kappa_score"]  # the same figure
    width = by_item["quadratic_kappa_score_high"] - by_item["quadratic_kappa_score_low"]
    assert by_candidate["quadratic_kappa_score_high"] - by_candidate["quadratic_kappa_score_low"] != width


# ---- undefined figures: NaN with the reason, never 0 ----------------------------------------------------------------

def test_too_few_items_leave_figures_undefined_with_reasons():
    a = levels_of(2)
    row = scope(table(a, a.copy()), CRITERIA[0][1], "criterion")
    assert row["paired"] == 2
    assert math.isnan(row["quadratic_kappa_score"]) and "only 2 pair(s)" in row["quadratic_kappa_score_undefined"]
    assert math.isnan(row["icc"]) and "only 2 item(s) with a level from every rater" in row["icc_undefined"]
    assert math.isnan(row["krippendorff_alpha"]) and "only 2 item(s)" in row["krippendorff_alpha_undefined"]
    assert row["changed_share"] == 0  # defined on any paired item, without an interval
    assert math.isnan(row["changed_share_low"])


def test_one_level_everywhere_has_no_variance():
    a = levels_of(10).assign(level=3.0)
    row = scope(table(a, a.copy()))
    assert math.isnan(row["quadratic_kappa_score"])
    assert "one and the same level" in row["quadratic_kappa_score_undefined"]
    assert math.isnan(row["icc"]) and "no variance" in row["icc_undefined"]
    assert math.isnan(row["krippendorff_alpha"]) and "one and the same level" in row["krippendorff_alpha_undefined"]
    assert row["changed_share"] == 0


def test_a_run_without_levels_pairs_nothing():
    a = levels_of(10)
    row = scope(table(a, a.assign(level=np.nan)))
    assert row["paired"] == 0 and row["only_a"] == row["items"]
    for name in ("changed_share", "quadratic_kappa_score", "icc", "krippendorff_alpha"):
        assert math.isnan(row[name]) and isinstance(row[f"{name}_undefined"], str), name
    assert "no item has a level from both A and B" in row["changed_share_undefined"]


def test_a_constant_shift_has_an_icc_but_no_f_interval():
    found = icc_2_1(np.column_stack([np.arange(1.0, 6.0), np.arange(1.0, 6.0) + 0.5]))
    assert 0 < found.value < 1 and found.undefined is None
    assert math.isnan(found.low) and "no residual variance" in found.interval_undefined




def test_the_long_frame_takes_one_level_per_item_and_rater():
    a = levels_of(3)
    levels = long_levels({"A": a, "B": a})
    assert list(levels.columns) == COLUMNS
    with pytest.raises(ValueError, match="one row per transcript, criterion and rater"):
        reliability_table(pd.concat([levels, levels]), RUBRIC, n_boot=0)
    with pytest.raises(ValueError, match="one row per transcript, criterion and rater"):
        reliability_table(levels.assign(rater="A"), RUBRIC, n_boot=0)


# ---- ICC(2,1) against the reference implementation ------------------------------------------------------------------

@pytest.fixture
def pingouin():
    pg = pytest.importorskip("pingouin")
    saved = dict(pg.options)
    pg.options["round"] = None
    for key in [k for k in pg.options if k.startswith("round.column.CI95")]:
        pg.options[key] = None  # full precision (by default pingouin rounds the interval to 2 decimals)
    yield pg
    pg.options.clear()
    pg.options.update(saved)


def pingouin_icc2(pg, matrix: np.ndarray) -> tuple[float, float, float]:
    long = pd.DataFrame(matrix).rename_axis("item").reset_index().melt(id_vars="item", var_name="rater",
                                                                        value_name="level")
    found = pg.intraclass_corr(data=long, targets="item", raters="rater", ratings="level", nan_policy="omit")
    row = found[found["Type"].isin(["ICC2", "ICC(A,1)"])].iloc[0]  # older pingouin names it ICC2
    low, high = row["CI95" if "CI95" in row else "CI95%"]
    return float(row["ICC"]), float(low), float(high)


PINGOUIN_WARNINGS = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")  # pingouin's own pandas use


@PINGOUIN_WARNINGS
@pytest.mark.parametrize("n, k", [(3, 2), (5, 2), (12, 2), (40, 2), (8, 3), (25, 4), (60, 6)])
@pytest.mark.parametrize("seed", range(4))
def test_icc_agrees_with_pingouin(pingouin, n, k, seed):
    rng = np.random.default_rng(seed * 100 + n * k)
    truth = rng.integers(1, 6, n)
    noise = rng.integers(-1 - seed, seed + 2, (n, k))  # from close agreement (seed 0) to little
    matrix = np.clip(truth[:, None] + noise + rng.integers(0, 2, k)[None, :], 1, 5).astype(float)
    if seed == 3:
        matrix = rng.normal(3, 1, (n, k))  # continuous, unrelated raters: ICC near or below 0
    if n > 5 and seed == 2:
        matrix[0, 1] = np.nan  # an incomplete item: left out by both
    ours = icc_2_1(matrix)
    assert ours.undefined is None and ours.interval_undefined is None and ours.mse > 0
    value, low, high = pingouin_icc2(pingouin, matrix)
    assert ours.value == pytest.approx(value, abs=1e-6)
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=1e-6)
    assert ours.items == (n - 1 if n > 5 and seed == 2 else n) and ours.raters == k


@PINGOUIN_WARNINGS
def test_two_samples_that_swap_every_level_have_an_icc_and_no_interval(pingouin):
    """Found on the MIT data (k = 5 samples, a pair of samples on one criterion): every item's mean and both
    raters' means equal (MSR = MSC = 0), so ICC = -2 and Satterthwaite's v is 0/0; it raised ZeroDivisionError."""
    matrix = np.array([[4.0, 5.0], [5.0, 4.0], [5.0, 4.0], [4.0, 5.0]])
    found = icc_2_1(matrix)
    assert found.value == pytest.approx(-2.0) and found.undefined is None
    assert math.isnan(found.low) and "degrees of freedom are not defined" in found.interval_undefined
    assert found.value == pytest.approx(pingouin_icc2(pingouin, matrix)[0])


@PINGOUIN_WARNINGS
def test_icc_agrees_with_pingouin_on_its_wine_example(pingouin):
    data = pingouin.read_dataset("icc")
    matrix = data.pivot_table(index="Wine", columns="Judge", values="Scores").to_numpy()
    ours = icc_2_1(matrix)
    value, low, high = pingouin_icc2(pingouin, matrix)
    assert ours.value == pytest.approx(value, abs=1e-6) == pytest.approx(0.728, abs=1e-3)
    assert (ours.low, ours.high) == pytest.approx((low, high), abs=1e-6)


# ---- grader eval --run A --retest B ---------------------------------------------------------------------------------

GOLD = {f"{p}{i}": 1 + (i + (p == "pp")) % 5 for i in range(1, 9) for p in ("p", "pp")}


def grade(comp: str, crit: str, level: int | None) -> CriterionGrade:
    if level is None:
        return CriterionGrade(competency_id=comp, criterion_id=crit, status=GradeStatus.insufficient_evidence,
                              model="m", rationale="The transcript does not speak to it.")
    return CriterionGrade(competency_id=comp, criterion_id=crit, status=GradeStatus.scored, level=level, model="m",
                          evidence=[Evidence(unit="1.1", turn=1, speaker="Sam", text="q")])


def make_run(path, level_of) -> None:
    """A run store graded by hand: `level_of(transcript, criterion, gold)` is the level (None: no level)."""
    store = RunStore(path / "run.sqlite")
    store.set_meta({"model": "m", "prompt_version": "p/1"})
    for tid, gold in GOLD.items():
        for comp, crit in CRITERIA:
            store.put(f"{tid}-{crit}", tid, grade(comp, crit, level_of(tid, crit, gold)))


def test_eval_with_a_retest_writes_reliability(tmp_path):
    first = CRITERIA[0][1]
    make_run(tmp_path / "a", lambda tid, crit, gold: gold)
    # the retest: p1 graded one level up on every criterion, pp2 without a level on the first criterion
    make_run(tmp_path / "b", lambda tid, crit, gold: (gold % 5 + 1 if tid == "p1" else
                                                      None if (tid, crit) == ("pp2", first) else gold))
    gold = tmp_path / "gold.csv"
    gold.write_text("interview_id," + ",".join(c for _, c in CRITERIA) + "\n"
                    + "\n".join(f"{tid}," + ",".join(str(g) for _ in CRITERIA) for tid, g in GOLD.items()) + "\n")
    result = CliRunner().invoke(app, ["eval", "--run", str(tmp_path / "a"), "--retest", str(tmp_path / "b"),
                                      "--gold", str(gold), "--rubric", str(RUBRIC_PATH), "--gold-id-column",
                                      "interview_id", "--group-pattern", r"\d+", "--n-boot", "50"])
    assert result.exit_code == 0 and result.exception is None, result.output
    report = (tmp_path / "a" / "eval" / "report.md").read_text(encoding="utf-8")
    assert "## Test-retest reliability" in report and "## Test-retest reliability" in result.output
    html = (tmp_path / "a" / "eval" / "report.html").read_text(encoding="utf-8")  # the same section, as HTML
    assert "<h2>Test-retest reliability</h2>" in html and "<td>overall (overall)</td>" in html
    assert "ICC(2,1)" in html and "|---|" not in html
    assert "Test-retest: run B is " in report and "(model m), 80 grades." in report
    items, changed = len(GOLD) * len(CRITERIA), len(CRITERIA)
    assert f"| overall (overall) | {items - 1} / {items} | 0 | 0 | {changed} | " not in report  # pp2 is only in A
    assert f"| overall (overall) | {items - 1} / {items} | 1 | 0 | {changed} | " in report
    figures = pd.read_csv(tmp_path / "a" / "eval" / "reliability.csv")
    overall = scope(figures)
    assert overall["changed_share"] == pytest.approx(changed / (items - 1))
    assert 0.8 < overall["quadratic_kappa_score"] < 1 and 0.8 < overall["icc"] < 1
    assert overall["icc_low"] < overall["icc"] < overall["icc_high"]
    assert overall["quadratic_kappa_score_low"] <= overall["quadratic_kappa_score"] \
        <= overall["quadratic_kappa_score_high"]
    assert 0.8 < overall["krippendorff_alpha"] < 1
    crit = scope(figures, first, "criterion")
    assert (crit["paired"], crit["only_a"], crit["changed"]) == (len(GOLD) - 1, 1, 1)
    # the agreement with gold is unchanged by the retest
    assert (tmp_path / "a" / "eval" / "figures.csv").exists()
