import pytest

from grader.agreement.gold import read_gold
from grader.errors import GraderError

CRITERIA = ["overall", "structured"]


def write(tmp_path, text):
    path = tmp_path / "gold.csv"
    path.write_text(text)
    return path


def test_long_format_with_raters_and_a_report_of_bad_rows(tmp_path):
    path = write(tmp_path, "transcript_id,criterion_id,rater_id,score\n"
                           "p1,overall,r1,4\np1,overall,r2,5\np1,overall,r1,3\n"   # duplicate (row 4)
                           "p1,typo,r1,4\npp1,structured,r1,x\np9,overall,r1,2\npp1,overall,r1,1\n")
    gold = read_gold(path, criteria=CRITERIA, transcripts=["p1", "pp1"], group_pattern=r"\d+")
    assert [(p.where, p.problem.split(" ")[0]) for p in gold.problems] == [
        ("row 4", "duplicate"), ("row 5", "unknown"), ("row 6", "score"), ("row 7", "transcript")]
    assert gold.frame[["transcript_id", "rater_id", "level"]].values.tolist() == [
        ["p1", "r1", 4], ["p1", "r2", 5], ["pp1", "r1", 1]]
    assert set(gold.frame["group"]) == {"1"} and gold.rule.kind == "levels"


def test_wide_continuous_gold_is_binned_by_a_stated_rule(tmp_path):
    rows = "\n".join(f"t{i},{1 + i * 0.6:.1f},{1.3 + i * 0.6:.1f}" for i in range(10))  # 20 distinct ratings
    path = write(tmp_path, "transcript_id,overall,structured,ignored\n" + rows + "\n")
    gold = read_gold(path, criteria=CRITERIA)
    assert gold.rule.kind == "quantiles" and sorted(gold.rule.cut_points) == ["overall", "structured"]
    assert all(len(c) == 4 for c in gold.rule.cut_points.values())
    assert "quantiles 20/40/60/80% of each criterion" in gold.rule.describe()
    for _, part in gold.frame.groupby("criterion_id"):  # 10 ratings of a criterion into 5 equal bins
        assert sorted(part["level"].value_counts().tolist()) == [2, 2, 2, 2, 2]
    fixed = read_gold(path, criteria=CRITERIA, cut_points=[2.5, 3.5, 4.5, 5.5])
    assert fixed.rule.kind == "cut_points"
    by = fixed.frame.set_index(["transcript_id", "criterion_id"])["level"]
    assert by[("t0", "overall")] == 1 and by[("t9", "overall")] == 5 and by[("t5", "overall")] == 3  # 4.0


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("a,b\n1,2\n", {}, "neither long"),
    ("transcript_id,overall\nt1,2.5\nt2,4\n", {"binning": "levels"}, "not all integer levels"),
    ("transcript_id,overall\nt1,2.5\n", {"cut_points": [3, 2, 4, 5]}, "4 ascending"),
])
def test_unusable_gold_files_say_why(tmp_path, text, kwargs, message):
    with pytest.raises(GraderError, match=message):
        read_gold(write(tmp_path, text), criteria=CRITERIA, **kwargs)


def test_scores_outside_the_scale_are_reported_not_binned(tmp_path):
    path = write(tmp_path, "transcript_id,overall\nt1,4\nt2,7\nt3,0\nt4,2\n")
    gold = read_gold(path, criteria=CRITERIA)  # whole numbers: levels 1..5, the stray 7 and 0 reported
    assert gold.rule.kind == "levels" and gold.frame["transcript_id"].tolist() == ["t1", "t4"]
    assert [p.problem for p in gold.problems] == ["score 7 is outside the scale 1..5",
                                                  "score 0 is outside the scale 1..5"]
    continuous = write(tmp_path, "transcript_id,overall\n" + "".join(f"t{i},{1 + i * 0.5}\n" for i in range(10))
                       + "t99,9.2\n")
    gold = read_gold(continuous, criteria=CRITERIA, scale=(1, 7))
    assert gold.rule.kind == "quantiles" and [p.where for p in gold.problems] == ["row 12"]


def test_an_adjudicated_items_gold_is_the_adjudicators_level_not_the_median(tmp_path):
    """`grader gold export` writes each item's gold; where the team disagreed and an adjudicator resolved it,
    that level is the gold `grader eval` uses (the raters' median would be 3 here)."""
    from grader.agreement.evaluate import consensus
    from grader.agreement.gold import read_gold

    path = tmp_path / "gold.csv"
    path.write_text("transcript_id,criterion_id,rater_id,score,source,gold\n"
                    "t1,c,dana,2,adjudicated,4\nt1,c,lee,4,adjudicated,4\n"
                    "t2,c,dana,3,consensus,3\nt2,c,lee,3,consensus,3\n", encoding="utf-8")
    table = consensus(read_gold(path, criteria=["c"])).set_index("transcript_id")
    assert table.loc["t1", "gold"] == 4 and table.loc["t2", "gold"] == 3 and table.loc["t1", "raters"] == 2
    plain = tmp_path / "plain.csv"
    plain.write_text("transcript_id,criterion_id,rater_id,score\nt1,c,dana,2\nt1,c,lee,4\n", encoding="utf-8")
    assert consensus(read_gold(plain, criteria=["c"]))["gold"].tolist() == [3]  # the median, rounded half up
