"""A gold file with both the long columns and wide ones (issue 21, defect 7): refused, never half read."""

import pytest

from grader.agreement.gold import read_gold
from grader.errors import GraderError

CRITERIA = ["overall", "structured", "recommend-hiring"]


def write(tmp_path, text):
    path = tmp_path / "mixed-gold.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize("header", [
    "transcript_id,criterion_id,rater_id,score,structured",  # one wide column after the long ones
    "transcript_id,criterion_id,score,overall,RecommendHiring",  # no rater; a wide column matched by its spelling
])
def test_long_and_wide_columns_together_are_refused_with_both_kinds_named(tmp_path, header):
    columns = header.split(",")
    long = [c for c in columns if c in {"transcript_id", "criterion_id", "rater_id", "score"}]
    wide = [c for c in columns if c not in long]
    row = {"transcript_id": "t1", "criterion_id": "overall", "rater_id": "r1", "score": "4"}
    values = [row.get(c, "2") for c in columns]
    path = write(tmp_path, f"{header}\n{','.join(values)}\n")
    with pytest.raises(GraderError) as caught:
        read_gold(path, criteria=CRITERIA)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert f"long columns ({', '.join(long)})" in message
    assert all(w in message for w in wide) and "wide columns" in message
    assert "Fix: keep one layout" in message


def test_each_layout_alone_is_still_read(tmp_path):
    long = write(tmp_path, "transcript_id,criterion_id,rater_id,score,note\nt1,overall,r1,4,fine\n")
    assert read_gold(long, criteria=CRITERIA).frame[["criterion_id", "level"]].values.tolist() == [["overall", 4]]
    wide = tmp_path / "wide.csv"
    wide.write_text("transcript_id,rater_id,overall,Structured\nt1,r1,4,3\n")
    frame = read_gold(wide, criteria=CRITERIA).frame
    assert sorted(frame[["criterion_id", "level"]].values.tolist()) == [["overall", 4], ["structured", 3]]
