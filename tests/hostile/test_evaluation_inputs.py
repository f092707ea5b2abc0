"""Hostile files read beside a run, one `parametrize` table per kind: gold labels, price tables,
calibration files and demographics (good gold rows evaluated beside bad ones).

Every case asserts: a non-zero exit or a recorded failure, no traceback, a message that names the
file or option and the fix, and the valid input beside it still processed. Grading uses a
one-criterion rubric against the loopback fake server (`grader.testing`), one server per module
(`conftest.py`); the tables are counted in `test_store_and_options.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from grader.ingest.rubric import load_rubric

from ..hostile_kit import BOMB, Kit, assert_refused, case, invoke

# -- gold files: `grader eval --run RUN --gold BAD` ---------------------------------------------------------
GOLD = [
    ("no-id-in-run", "transcript_id,criterion_id,score\nzz,clarity,3\n", "not in the run", "refused"),
    ("header-only", "transcript_id,criterion_id,score\n", "has no labels", "refused"),
    ("all-non-numeric", "transcript_id,criterion_id,score\nt1,clarity,good\nt2,clarity,bad\n", "is not a number",
     "refused"),
    ("neither-long-nor-wide", "who,what\nt1,3\n", "neither long", "refused"),
    ("zero-bytes", "", "cannot read the gold CSV", "refused"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "cannot read the gold CSV", "refused"),
    ("inf-score", "transcript_id,criterion_id,score\nt1,clarity,inf\nt2,clarity,3\nt3,clarity,4\n",
     "score inf is not a number", "listed"),
    ("minus-inf-score", "transcript_id,criterion_id,score\nt1,clarity,-inf\nt2,clarity,3\nt3,clarity,4\n",
     "is not a number", "listed"),
    ("nan-score", "transcript_id,criterion_id,score\nt1,clarity,nan\nt2,clarity,3\nt3,clarity,4\n",
     "is not a number", "listed"),
    ("huge-score", "transcript_id,criterion_id,score\nt1,clarity,1e308\nt2,clarity,3\nt3,clarity,4\n",
     "outside the scale", "listed"),
    ("score-seven", "transcript_id,criterion_id,score\nt1,clarity,7\nt2,clarity,3\nt3,clarity,4\n",
     "outside the scale 1..5", "listed"),
    ("unknown-criterion", "transcript_id,criterion_id,score\nt1,nope,3\nt2,clarity,3\nt3,clarity,4\n",
     "unknown criterion id 'nope'", "listed"),
    ("duplicate-row", "transcript_id,criterion_id,score\nt2,clarity,3\nt2,clarity,3\nt3,clarity,4\n",
     "duplicate of an earlier row", "listed"),
    ("markup-id", "transcript_id,criterion_id,score\n<script>x</script>,clarity,3\nt2,clarity,3\nt3,clarity,4\n",
     "\\<script\\>", "listed"),
]


@pytest.mark.parametrize(("content", "expected", "outcome"), case(GOLD))
def test_hostile_gold_is_refused_or_its_rows_listed(kit, run, tmp_path, request, content, expected, outcome):
    bad = kit.write(f"gold/{request.node.callspec.id}.csv", content)
    result = invoke("eval", "--run", run, "--gold", bad, "--out", tmp_path, "--n-boot", "5", "--no-html")
    if outcome == "refused":
        assert_refused(result, str(bad), expected, fix="Fix:")
        return
    assert result.exit_code == 0, result.output  # the good rows are evaluated, the bad one listed as left out
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert expected in report and "rows left out: 1" in report and "<script>" not in report


def test_missing_gold_file_is_refused(kit, run, tmp_path):
    result = invoke("eval", "--run", run, "--gold", tmp_path / "nope.csv", "--n-boot", "5", "--no-html")
    assert_refused(result, str(tmp_path / "nope.csv"), "cannot read the gold CSV", fix="Fix:")


# -- price tables: `grader batch GOOD --prices BAD` ---------------------------------------------------------
PRICE = "models:\n  fake-grader: {input: 1, cached_input: 0.5, output: 2}\n"
PRICES = [
    ("input-1e308", PRICE.replace("input: 1,", "input: 1.0e+308,"), "less than or equal to 10000"),
    ("input-inf", PRICE.replace("input: 1,", "input: .inf,"), "finite number"),
    ("input-nan", PRICE.replace("input: 1,", "input: .nan,"), "finite number"),
    ("input-negative", PRICE.replace("input: 1,", "input: -1,"), "greater than or equal to 0"),
    ("input-true", PRICE.replace("input: 1,", "input: true,"), "valid number"),
    ("input-string", PRICE.replace("input: 1,", "input: '1',"), "valid number"),
    ("output-missing", PRICE.replace(", output: 2", ""), "Field required"),
    ("unknown-field", PRICE.replace("output: 2", "output: 2, batch: 1"), "Extra inputs"),
    ("model-twice", PRICE + "  fake-grader: {input: 9, output: 9}\n", "given twice"),
    ("field-twice", PRICE.replace("output: 2", "output: 2, output: 3"), "given twice"),
    ("discount-2", "batch_discount: 2\n" + PRICE, "less than or equal to 1"),
    ("models-a-list", "models: [gpt]\n", "valid dictionary"),
    ("empty-file", "", "valid dictionary"),
    ("yaml-syntax", "models: {fake-grader: {input: 1\n", "cannot read the price table"),
    ("latin-1", "models:\n  caf\xe9: {input: 1, output: 2}\n".encode("latin-1"), "cannot read the price table"),
    ("alias-bomb", BOMB, "expands to more than"),
]


@pytest.mark.parametrize(("content", "expected"), case(PRICES))
def test_hostile_price_table_is_refused_before_any_call(kit, tmp_path, request, content, expected):
    bad = kit.write(f"prices/{request.node.callspec.id}.yaml", content)
    posts = kit.server.posts
    result = invoke("batch", kit.good, "--run", tmp_path / "run", "--prices", bad, *kit.grading)
    assert_refused(result, str(bad), "--prices", expected, fix="models: {NAME:")
    assert kit.server.posts == posts


def test_valid_price_table_beside_them_is_used(kit, tmp_path):
    good = kit.write("prices/good.yaml", PRICE)
    result = invoke("batch", kit.good, "--run", tmp_path / "run", "--prices", good, *kit.grading)
    assert result.exit_code == 0 and "$0.0" in result.output


# -- calibration files: `grader grade GOOD --calibration BAD` -------------------------------------------------
def calibration(kit: Kit, **changes: object) -> str:
    mapping = {"x": [1.0, 3.0, 5.0], "y": [1.0, 2.0, 4.0]}
    body = {"rubric_id": "tiny", "rubric_hash": load_rubric(kit.rubric).content_hash(), "model": "fake-grader",
            "prompt_version": "grade-criterion/5", "input": "stated", "mappings": {"clarity": mapping}}
    for key, value in changes.items():
        (mapping if key in "xy" else body)[key] = value
    return json.dumps(body)


CALIBRATIONS: list[tuple[str, Callable[[Kit], str | bytes], str]] = [
    ("x-empty", lambda k: calibration(k, x=[], y=[]), "at least 1 item"),
    ("x-y-unequal", lambda k: calibration(k, y=[1.0, 2.0]), "give one y for each x"),
    ("x-nan", lambda k: calibration(k).replace("[1.0, 3.0, 5.0]", "[1.0, NaN, 5.0]"), "finite number"),
    ("y-infinity", lambda k: calibration(k).replace("[1.0, 2.0, 4.0]", "[1.0, 2.0, Infinity]"), "finite number"),
    ("y-nine", lambda k: calibration(k, y=[1.0, 2.0, 9.0]), "less than or equal to 5"),
    ("x-descending", lambda k: calibration(k, x=[5.0, 3.0, 1.0]), "ascending"),
    ("x-strings", lambda k: calibration(k, x=["1", "3", "5"]), "valid number"),
    ("x-booleans", lambda k: calibration(k, x=[True, True, True]), "valid number"),
    ("mappings-missing", lambda k: calibration(k).replace('"mappings"', '"mapping"'), "Field required"),
    ("not-json", lambda k: "x: [1, 2]\n", "not a valid calibration file"),
    ("empty-file", lambda k: "", "not a valid calibration file"),
    ("binary", lambda k: b"\x89PNG\r\n\x1a\n\xff", "not a calibration file"),
    ("other-rubric", lambda k: calibration(k, rubric_hash="0123456789abcdef"), "was fitted for rubric"),
    ("other-model", lambda k: calibration(k, model="gpt-x"), "was fitted for rubric"),
    ("expected-without-probs", lambda k: calibration(k, input="expected"), "maps expected levels"),
]


@pytest.mark.parametrize(("make", "expected"), case(CALIBRATIONS))
def test_hostile_calibration_file_is_refused_before_grading(kit, tmp_path, request, make, expected):
    bad = kit.write(f"calibrations/{request.node.callspec.id}.json", make(kit))
    posts = kit.server.posts
    result = invoke("grade", kit.good, "--out", tmp_path, "--calibration", bad, *kit.grading)
    assert_refused(result, "--calibration", expected, fix="Fix:")
    assert kit.server.posts == posts and not list(tmp_path.iterdir())


def test_valid_calibration_beside_them_is_applied(kit, tmp_path):
    good = kit.write("calibrations/good.json", calibration(kit))
    result = invoke("grade", kit.good, "--out", tmp_path, "--calibration", good, *kit.grading)
    assert result.exit_code == 0 and json.loads((tmp_path / "good.json").read_text())["run"]["calibration"]


# -- demographics files: `grader audit RUN --demographics BAD` ----------------------------------------------
DEMOGRAPHICS = [
    ("zero-bytes", "", "cannot read the demographics CSV", "refused"),
    ("binary", b"\x89PNG\r\n\x1a\n\xff\xfe", "cannot read the demographics CSV", "refused"),
    ("no-id-column", "who,sex\nt1,f\n", "no id column 'transcript_id'", "refused"),
    ("no-graded-id", "transcript_id,sex\nzz,f\n", "no id of the demographics file is a graded transcript",
     "refused"),
    ("one-transcript", "transcript_id,sex\nt1,f\n", "too small to conclude", "reported"),
    ("markup-group", "transcript_id,sex\nt1,<script>x</script>\nt2,f\nt3,f\n", "\\<script\\>", "reported"),
    ("duplicate-column", "transcript_id,sex,sex\nt1,f,m\n", "names column 'sex' more than once", "refused"),
    ("latin-1", "transcript_id,site\nt1,Genève\n".encode("latin-1"), "not UTF-8 text (byte 25 is 0xe8", "refused"),
]
DEMOGRAPHICS_FIXES = {"duplicate-column": "give each column a distinct name",
                      "latin-1": "save it as UTF-8, e.g. iconv -f latin1 -t utf-8"}


@pytest.mark.parametrize(("content", "expected", "outcome"), case(DEMOGRAPHICS))
def test_hostile_demographics_are_refused_or_reported(kit, run, tmp_path, request, content, expected, outcome):
    bad = kit.write(f"demographics/{request.node.callspec.id}.csv", content)
    result = invoke("audit", run, "--demographics", bad, "--boot", "100", "--out", tmp_path)
    if outcome == "refused":
        assert_refused(result, str(bad), expected, fix=DEMOGRAPHICS_FIXES.get(request.node.callspec.id, "Fix:"))
        return
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert result.exit_code == 0 and expected in report and "<script>" not in report
