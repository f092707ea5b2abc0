import pandas as pd
import pytest

from grader.agreement.evaluate import evaluation_table
from grader.agreement.gold import read_gold
from grader.ingest.rubric import Competency, Criterion, Rubric

LEVELS = {i: f"level {i}" for i in range(1, 6)}
RUBRIC = Rubric(id="r", title="R", competencies=[Competency(id="c", name="C", min_passing_score=3, criteria=[
    Criterion(id="a", name="A", weight=1, levels=LEVELS), Criterion(id="b", name="B", weight=1, levels=LEVELS)])])


def test_table_counts_missing_grades_and_gives_a_human_ceiling(tmp_path):
    rows = ["transcript_id,criterion_id,rater_id,score"]
    for t in range(8):
        for crit in ("a", "b"):
            rows += [f"t{t},{crit},r1,{1 + t % 5}", f"t{t},{crit},r2,{1 + (t + 1) % 5}"]
    (tmp_path / "gold.csv").write_text("\n".join(rows) + "\n")
    gold = read_gold(tmp_path / "gold.csv", criteria=["a", "b"])
    model = pd.DataFrame([{"transcript_id": f"t{t}", "criterion_id": crit,
                           "status": "unscored" if (t, crit) == (0, "a") else "scored",
                           "level": None if (t, crit) == (0, "a") else 1 + t % 5}
                          for t in range(8) for crit in ("a", "b") if (t, crit) != (7, "b")])
    table = evaluation_table(model, gold, RUBRIC, n_boot=50).set_index("scope")
    assert table.loc["a", "gold_items"] == 8 and table.loc["a", "pairs"] == 7 and table.loc["a", "n_unscored"] == 1
    assert table.loc["b", "n_not_graded"] == 1 and table.loc["overall", "pairs"] == 14
    assert table.loc["c", "pairs"] == table.loc["overall", "pairs"]
    assert table.loc["a", "quadratic_kappa_score_low"] <= table.loc["a", "quadratic_kappa_score"]
    assert table.loc["a", "krippendorff_alpha"] == pytest.approx(table.loc["b", "krippendorff_alpha"])
    assert table.loc["a", "human_quadratic_kappa_mean"] is not None


def test_pass_fail_decision_agreement_counts_undetermined(tmp_path):
    from grader.agreement.evaluate import decision_table

    rows = ["transcript_id,criterion_id,score"]
    gold_levels = {f"t{t}": (4 if t % 2 else 2) for t in range(10)}  # odd pass (>= 3), even fail
    rows += [f"{t},{c},{lv}" for t, lv in gold_levels.items() for c in ("a", "b")]
    (tmp_path / "gold.csv").write_text("\n".join(rows) + "\n")
    gold = read_gold(tmp_path / "gold.csv", criteria=["a", "b"])
    model = pd.DataFrame([{"transcript_id": t, "criterion_id": c, "status": "scored",
                           "level": None if (t == "t0" and c == "b") else lv}
                          for t, lv in gold_levels.items() for c in ("a", "b")])
    row = decision_table({"model": model}, gold, RUBRIC, n_boot=50).iloc[0]
    # t0: a=2, b missing -> range 1.5..3.5 straddles 3: undetermined, counted and not paired
    assert (row["transcripts"], row["decided"], row["undetermined"]) == (10, 9, 1)
    assert row["agreement"] == 1.0 and row["kappa"] == 1.0 and row["gold_pass"] == 5
