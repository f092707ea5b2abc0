"""Judge panels (issue 20, item 2): several servers grade each criterion, a rule makes one level of theirs.

The rules are tested on levels alone (hypothesis); the mechanics against loopback fakes of
`grader.testing` that answer differently: one at the fake's own level, one a level or two above it, one
that fails every completion. A judge that fails never adds a level; disagreement sets needs_review.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from grader import Grader, GradingOptions, RunFolder, Settings
from grader.api import GraderError, JudgeSpec
from grader.cli import app
from grader.grading.grades import CriterionGrade, Evidence, GradeStatus, SampleGrade
from grader.grading.panel import (
    JudgeInfo,
    PanelInfo,
    aggregate,
    combine,
    lower_median,
    majority_level,
    weighted_median,
)
from grader.grading.panel_file import load_panel_file, parse_judge
from grader.testing import MODEL, FakeOpenAI, _Handler, grade_arguments, tool_completion

from .conftest import TRANSCRIPTS

GOLD = Path(__file__).parent / "data" / "samples-gold.csv"
SHORT = TRANSCRIPTS / "short-screen.txt"
FAST = Settings(model=MODEL, backoff_max_seconds=0.01, transient_attempts=2, transient_max_seconds=5)
runner = CliRunner()


# ---- fakes that answer differently ---------------------------------------------------------------------------------

class _JudgeHandler(_Handler):
    server: JudgeServer

    def _complete(self, body: dict[str, Any]) -> None:
        with self.server.log_lock:
            self.server.posts += 1
            self.server.bodies.append(body)
        if self.server.fail or (self.server.fail_when and self.server.fail_when(body)):
            return self._send(self.server.fail or 500, b'{"error": {"message": "this judge is down"}}')
        args = grade_arguments(body)
        if isinstance(args["level"], int):
            args["level"] = self.server.level(args["level"], body)
        prompt = sum(len(str(m.get("content", ""))) // 4 for m in body["messages"])
        self._json(tool_completion(json.dumps(args), name=body["tool_choice"]["function"]["name"], model=body["model"],
                                   prompt_tokens=prompt, cached_tokens=prompt // 2))


class JudgeServer(FakeOpenAI):
    """The loopback fake with a behaviour: `shift` moves its level (kept in 1..5), `by_seed` adds the request's
    seed minus 7 to it (so samples differ), `fail` answers every completion with that HTTP status, `fail_when`
    answers HTTP 500 to the requests it is true of, `level` replaces the level (a function of the fake's level and
    the request)."""

    def __init__(self, *, shift: int = 0, by_seed: bool = False, fail: int | None = None,
                 level: Callable[[int, dict], int] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.RequestHandlerClass = _JudgeHandler
        self.shift, self.by_seed, self.fail, self.custom = shift, by_seed, fail, level
        self.fail_when: Callable[[dict], bool] | None = None
        self.bodies: list[dict[str, Any]] = []

    def level(self, fake_level: int, body: dict[str, Any]) -> int:
        if self.custom is not None:
            return self.custom(fake_level, body)
        moved = fake_level + self.shift + ((body.get("seed") or 7) - 7 if self.by_seed else 0)
        return max(1, min(5, moved))


@pytest.fixture
def judges() -> Iterator[dict[str, JudgeServer]]:
    servers = {"a": JudgeServer().start(), "b": JudgeServer(shift=2).start(), "c": JudgeServer(fail=500).start()}
    yield servers
    for server in servers.values():
        server.close()


def spec(name: str, server: FakeOpenAI, weight: float = 1.0) -> JudgeSpec:
    return JudgeSpec(name=name, base_url=server.base_url, model=MODEL, weight=weight)


# ---- the rules on levels alone -------------------------------------------------------------------------------------

LEVELS = st.lists(st.integers(1, 5), min_size=1, max_size=9)
VOTES = st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=1, max_size=7)


@given(LEVELS)
def test_median_is_the_lower_middle_level(levels):
    assert combine("median", levels) == lower_median(levels) == statistics.median_low(levels)
    assert min(levels) <= lower_median(levels) <= max(levels) and lower_median(levels) in levels


@given(LEVELS)
def test_majority_is_the_lowest_most_frequent_level(levels):
    counts = Counter(levels)
    found = majority_level(levels)
    assert counts[found] == max(counts.values())
    assert all(level > found for level, n in counts.items() if n == counts[found] and level != found)


@given(LEVELS)
def test_weighted_with_equal_weights_is_the_median(levels):
    assert combine("weighted", levels, [2.5] * len(levels)) == statistics.median_low(levels)


@given(LEVELS, st.data())
def test_weighted_median_holds_half_the_weight_on_each_side(levels, data):
    weights = data.draw(st.lists(st.floats(0.1, 10), min_size=len(levels), max_size=len(levels)))
    found = weighted_median(levels, weights)
    total = sum(weights)
    assert sum(w for level, w in zip(levels, weights, strict=True) if level <= found) >= total / 2 - 1e-9
    assert sum(w for level, w in zip(levels, weights, strict=True) if level < found) < total / 2 + 1e-9
    raised = [min(level + 1, 5) for level in levels]  # a judge raising its level never lowers the panel's
    assert weighted_median(raised, weights) >= found


@given(LEVELS, st.permutations(range(9)))
def test_every_rule_ignores_the_order_of_the_judges(levels, order):
    shuffled = [levels[i] for i in order if i < len(levels)]
    for rule in ("median", "majority", "weighted", "unanimous"):
        assert combine(rule, levels) == combine(rule, shuffled)


@given(VOTES)
def test_a_judge_without_a_level_never_adds_one(votes):
    present = [v for v in votes if v is not None]
    for rule in ("median", "majority", "weighted"):
        assert combine(rule, votes) == (combine(rule, present) if present else None)
    unanimous = combine("unanimous", votes)
    assert unanimous == (votes[0] if None not in votes and len(set(votes)) == 1 else None)


# ---- the rules on sample grades ------------------------------------------------------------------------------------

EVIDENCE = [Evidence(unit="2.1", turn=2, speaker="Sam", text="I would track MAE weekly.")]
BASE = CriterionGrade(competency_id="c", criterion_id="x", status=GradeStatus.unscored)


def sample(judge: str, level: int | str | None, index: int = 0) -> SampleGrade:
    if level == "failed":
        return SampleGrade(judge=judge, sample=index, seed=7 + index, status=GradeStatus.unscored,
                           reason="server answered HTTP 500: this judge is down")
    if level == "insufficient":
        return SampleGrade(judge=judge, sample=index, seed=7 + index, status=GradeStatus.insufficient_evidence)
    return SampleGrade(judge=judge, sample=index, seed=7 + index, status=GradeStatus.scored, level=level,
                       evidence=EVIDENCE, rationale=f"{judge} says {level}")


def panel(*names: str, rule: str = "median", samples: int = 1, max_spread: int = 1,
          weights: dict[str, float] | None = None) -> PanelInfo:
    return PanelInfo(samples=samples, rule=rule, max_spread=max_spread, judges=tuple(
        JudgeInfo(name=n, server="http://127.0.0.1", model=f"m-{n}", weight=(weights or {}).get(n, 1.0))
        for n in names))


def test_a_failed_judge_is_unscored_for_that_judge_and_the_panel_says_how_many_scored():
    grade = aggregate(BASE, [sample("a", 3), sample("b", 4), sample("c", "failed")], panel("a", "b", "c"))
    assert grade.status is GradeStatus.scored and grade.level == 3 and grade.counts
    assert grade.judge_levels() == {"a": 3, "b": 4, "c": None}
    assert [j.status for j in grade.aggregation.judges] == ["scored", "scored", "unscored"]
    assert grade.aggregation.scored == 2 and "2 of 3 judges" in grade.aggregation.summary
    assert grade.needs_review and "judge c failed: server answered HTTP 500" in grade.reason
    assert grade.rationale == "a says 3" and grade.evidence == EVIDENCE  # the sample the level came from


def test_every_judge_failing_leaves_no_level():
    grade = aggregate(BASE, [sample("a", "failed"), sample("b", "failed")], panel("a", "b"))
    assert grade.status is GradeStatus.unscored and grade.level is None and not grade.counts
    assert "every sample failed" in grade.reason


def test_unanimous_with_a_failed_judge_or_a_disagreement_is_undetermined():
    failed = aggregate(BASE, [sample("a", 3), sample("b", 3), sample("c", "failed")],
                       panel("a", "b", "c", rule="unanimous"))
    assert failed.status is GradeStatus.unscored and failed.level is None and failed.needs_review
    assert "not unanimous (a 3, b 3, c failed)" in failed.reason
    split = aggregate(BASE, [sample("a", 3), sample("b", 4)], panel("a", "b", rule="unanimous"))
    assert split.level is None and "not unanimous" in split.reason
    agreed = aggregate(BASE, [sample("a", 4), sample("b", 4)], panel("a", "b", rule="unanimous"))
    assert agreed.level == 4 and not agreed.needs_review and agreed.reason is None


def test_disagreement_beyond_the_threshold_needs_review():
    near = aggregate(BASE, [sample("a", 3), sample("b", 4)], panel("a", "b"))
    assert near.level == 3 and not near.needs_review and near.aggregation.spread == 1
    far = aggregate(BASE, [sample("a", 2), sample("b", 5)], panel("a", "b"))
    assert far.needs_review and "the levels spread over 3 (2 to 5), above 1" in far.reason
    strict = aggregate(BASE, [sample("a", 3), sample("b", 4)], panel("a", "b", max_spread=0))
    assert strict.needs_review


def test_weighted_majority_and_median_on_known_levels():
    votes = [sample("a", 2), sample("b", 4), sample("c", 4), sample("d", 5)]
    assert aggregate(BASE, votes, panel("a", "b", "c", "d")).level == 4  # sorted 2 4 4 5: lower middle 4
    assert aggregate(BASE, votes[:2], panel("a", "b")).level == 2  # an even count: the lower middle
    assert aggregate(BASE, votes, panel("a", "b", "c", "d", rule="majority")).level == 4
    assert aggregate(BASE, votes[:2], panel("a", "b", rule="majority")).level == 2  # a tie: the lowest
    weights = {"a": 5.0}
    assert aggregate(BASE, votes, panel("a", "b", "c", "d", rule="weighted", weights=weights)).level == 2


def test_insufficient_evidence_against_a_level_needs_review():
    grade = aggregate(BASE, [sample("a", 4), sample("b", "insufficient")], panel("a", "b"))
    assert grade.level == 4 and grade.needs_review and "1 of 2 samples gave a level that counts" in grade.reason
    none = aggregate(BASE, [sample("a", "insufficient"), sample("b", "insufficient")], panel("a", "b"))
    assert none.status is GradeStatus.insufficient_evidence and not none.needs_review


# ---- judges as a user names them -----------------------------------------------------------------------------------

def test_a_judge_is_name_url_and_model():
    assert parse_judge("a=http://127.0.0.1:8000/v1,gpt-x") == JudgeSpec(name="a", base_url="http://127.0.0.1:8000/v1",
                                                                        model="gpt-x")
    assert parse_judge("b=http://h/v1").model is None  # the server's one model
    for wrong in ("http://h/v1,m", "=http://h,m", "a b=http://h,m"):
        with pytest.raises(GraderError, match="--judge"):
            parse_judge(wrong)


def test_a_panel_file_names_the_field_and_never_holds_a_key(tmp_path):
    path = tmp_path / "panel.yaml"
    path.write_text("rule: weighted\njudges:\n  - {name: a, base_url: 'http://h/v1', model: m, weight: 2}\n"
                    "  - {name: b, base_url: 'http://g/v1', model: n}\n")
    found = load_panel_file(path)
    assert found.rule == "weighted" and [j.weight for j in found.judges] == [2, 1]
    path.write_text("judges:\n  - {name: a, base_url: 'http://h/v1', model: m, api_key: sk-secret}\n")
    with pytest.raises(GraderError, match="never holds a key") as info:
        load_panel_file(path)
    assert "sk-secret" not in str(info.value)
    path.write_text("judges:\n  - {name: a, base_url: 'http://h/v1', wieght: 2}\n")
    with pytest.raises(GraderError, match=r"judges\.0\.wieght"):
        load_panel_file(path)
    path.write_text("when: 2001-13-01\njudges: []\n")  # PyYAML's bare ValueError for a date that is none
    with pytest.raises(GraderError, match=r"panel file is not valid YAML.*month must be in 1\.\.12"):
        load_panel_file(path)


def test_weighted_needs_weights_and_a_rule_needs_judges():
    with pytest.raises(GraderError, match="needs the judges' weights"):
        GradingOptions(judges=(JudgeSpec(name="a", base_url="http://h/v1"), JudgeSpec(name="b", base_url="http://g/v1")),
                       panel_rule="weighted")
    with pytest.raises(GraderError, match="no judge"):
        GradingOptions(panel_rule="majority")
    with pytest.raises(GraderError, match="given twice"):
        GradingOptions(judges=(JudgeSpec(name="a", base_url="http://h/v1"), JudgeSpec(name="a", base_url="http://g/v1")))


# ---- against servers -----------------------------------------------------------------------------------------------

def test_a_failing_judge_never_gives_a_score_and_each_judge_is_on_the_sheet(judges, tmp_path):
    options = GradingOptions(judges=tuple(spec(n, s) for n, s in judges.items()))
    with Grader("mit-interview", options=options, settings=FAST) as g:
        sheet = g.grade(SHORT)
    assert sheet.run.panel is not None and [j.name for j in sheet.run.panel.judges] == ["a", "b", "c"]
    assert judges["c"].posts >= 5  # asked (and retried) for every criterion, and failed every time
    for grade in sheet.grades:
        levels = grade.judge_levels()
        assert levels["c"] is None and levels["a"] is not None and levels["b"] is not None
        assert grade.level == min(levels["a"], levels["b"])  # the median of two: the lower middle
        assert [s.judge for s in grade.samples] == ["a", "b", "c"]
        failed = grade.samples[2]
        assert failed.status is GradeStatus.unscored and failed.level is None and "HTTP 500" in failed.reason
        assert grade.needs_review and "judge c failed" in grade.reason and grade.aggregation.scored == 2
    data = json.loads(sheet.model_dump_json())
    assert all(s["level"] is None or s["level"] in range(1, 6) for g in data["grades"] for s in g["samples"])
    text = (sheet.write(tmp_path, g.rubric)[1]).read_text()
    assert "Samples and judges:" in text and "c failed" in text and "rule median" in text
    assert "lower of the two middle levels" in text  # the tie rule is printed on the sheet


def test_each_judge_is_asked_with_its_own_model_and_the_same_prompt(judges):
    a, b = judges["a"], judges["b"]
    options = GradingOptions(judges=(spec("a", a), JudgeSpec(name="b", base_url=b.base_url)))
    with Grader("mit-interview", options=options, settings=FAST) as g:
        g.grade(SHORT)
    assert [x["messages"] for x in a.bodies] == [x["messages"] for x in b.bodies]
    assert {x["model"] for x in b.bodies} == {MODEL} and all(x["seed"] == 7 for x in a.bodies)


def test_one_server_and_judges_together_is_an_error(judges):
    options = GradingOptions(judges=(spec("a", judges["a"]),))
    with pytest.raises(GraderError, match="one server was given besides"):
        Grader("mit-interview", base_url=judges["b"].base_url, options=options)


def test_the_manifest_records_the_judges_and_refuses_another_panel(judges, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-judge-secret")
    two = GradingOptions(judges=(spec("a", judges["a"]), spec("b", judges["b"])))
    with Grader("mit-interview", options=two, settings=FAST) as g:
        g.batch([SHORT], tmp_path / "run")
    with RunFolder(tmp_path / "run").read() as record:
        manifest = record.manifest
    assert [(j.name, j.model) for j in manifest.panel.judges] == [("a", MODEL), ("b", MODEL)]
    assert manifest.panel.judges[1].server == judges["b"].base_url.removesuffix("/v1")
    assert manifest.panel.rule == "median" and manifest.panel.samples == 1
    assert "sk-judge-secret" not in (tmp_path / "run" / "run.sqlite").read_bytes().decode("latin-1")
    other = GradingOptions(judges=two.judges, panel_rule="majority")
    with Grader("mit-interview", options=other, settings=FAST) as g, pytest.raises(GraderError) as info:
        g.batch([SHORT], tmp_path / "run")
    assert "rule: 'median' vs 'majority'" in str(info.value)
    with Grader("mit-interview", base_url=judges["a"].base_url, settings=FAST) as g, \
            pytest.raises(GraderError, match="samples and judges"):
        g.batch([SHORT], tmp_path / "run")


def test_each_judge_call_is_stored_and_a_rerun_sends_nothing(judges, tmp_path):
    options = GradingOptions(judges=(spec("a", judges["a"]), spec("b", judges["b"])))
    with Grader("mit-interview", options=options, settings=FAST) as g:
        first = g.batch([SHORT], tmp_path / "run")
        assert first.stats.calls == 10 and first.stats.calls_failed == 0
        posts = judges["a"].posts + judges["b"].posts
        with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:  # as if killed before the sheet was written
            db.execute("DELETE FROM calls")
            db.execute("DELETE FROM transcripts")
        again = g.batch([SHORT], tmp_path / "run")
    assert judges["a"].posts + judges["b"].posts == posts  # every judge's call came from the store
    assert again.stats.calls == 0 and again.stats.calls_cached == 10 and again.stats.transcripts == 1


# ---- the command line, end to end ----------------------------------------------------------------------------------

def test_batch_with_judges_from_the_command_line_and_export_columns(judges, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    bad = JudgeServer(fail=400).start()  # fails at once (not retried): a judge that refuses every request
    try:
        args = ["batch", str(SHORT), "--run", str(tmp_path / "run"), "--rubric", "mit-interview",
                "--judge", f"a={judges['a'].base_url},{MODEL}", "--judge", f"b={judges['b'].base_url},{MODEL}",
                "--judge", f"c={bad.base_url},{MODEL}", "--panel-rule", "median"]
        result = runner.invoke(app, args)
    finally:
        bad.close()
    assert result.exit_code == 1, result.output  # judge c's calls failed: listed, and the run is incomplete
    assert "judge c sample 0" in result.output
    sheet = json.loads((tmp_path / "run" / "sheets" / "short-screen.json").read_text())
    assert sheet["run"]["panel"]["rule"] == "median" and len(sheet["run"]["panel"]["judges"]) == 3
    for grade in sheet["grades"]:
        assert {s["judge"]: s["level"] for s in grade["samples"]}["c"] is None
        assert grade["level"] == min(s["level"] for s in grade["samples"] if s["level"] is not None)
        assert [j["judge"] for j in grade["aggregation"]["judges"]] == ["a", "b", "c"]
    out = tmp_path / "grades.csv"
    assert runner.invoke(app, ["export", str(tmp_path / "run"), "--to", str(out)]).exit_code == 0
    frame = pd.read_csv(out)
    assert {"judge_a", "judge_b", "judge_c", "rule", "spread", "sample_levels"} <= set(frame.columns)
    assert frame["judge_c"].isna().all() and frame["judge_a"].notna().all()
    assert (frame["level"] == frame[["judge_a", "judge_b"]].min(axis=1)).all()


def test_judges_with_base_url_on_the_command_line_is_refused(judges, tmp_path):
    result = runner.invoke(app, ["grade", str(SHORT), "--out", str(tmp_path), "--base-url", judges["a"].base_url,
                                 "--judge", f"b={judges['b'].base_url},{MODEL}"])
    assert result.exit_code == 2 and "judges are named too" in result.output


def test_a_panel_file_with_weights_from_the_command_line(judges, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    panel_file = tmp_path / "panel.yaml"
    panel_file.write_text(f"rule: weighted\nmax_spread: 2\njudges:\n"
                          f"  - {{name: a, base_url: '{judges['a'].base_url}', model: {MODEL}, weight: 3}}\n"
                          f"  - {{name: b, base_url: '{judges['b'].base_url}', model: {MODEL}}}\n")
    result = runner.invoke(app, ["grade", str(SHORT), "--out", str(tmp_path / "out"), "--rubric", "mit-interview",
                                 "--panel", str(panel_file)])
    assert result.exit_code == 0, result.output
    sheet = json.loads((tmp_path / "out" / "short-screen.json").read_text())
    assert sheet["run"]["panel"]["rule"] == "weighted" and sheet["run"]["panel"]["max_spread"] == 2
    for grade in sheet["grades"]:  # a weighs 3 of 4: its level is the weighted median
        assert grade["level"] == grade["aggregation"]["judges"][0]["level"]


def test_judges_in_grader_toml(judges, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grader.toml").write_text(
        f'judges = ["a={judges["a"].base_url},{MODEL}", "b={judges["b"].base_url},{MODEL}"]\n'
        'panel_rule = "majority"\nrubric = "mit-interview"\n')
    result = runner.invoke(app, ["grade", str(SHORT), "--out", "out"])
    assert result.exit_code == 0, result.output
    sheet = json.loads((tmp_path / "out" / "short-screen.json").read_text())
    assert sheet["run"]["panel"]["rule"] == "majority" and len(sheet["grades"][0]["samples"]) == 2


def test_eval_reports_inter_judge_agreement(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    one, two = JudgeServer().start(), JudgeServer(level=lambda lv, body: max(1, lv - (len(body["messages"][1][
        "content"]) % 2))).start()
    try:
        options = GradingOptions(judges=(spec("a", one), spec("b", two)))
        with Grader("mit-interview", options=options, settings=FAST) as g:
            g.batch([TRANSCRIPTS], tmp_path / "run")
    finally:
        one.close()
        two.close()
    result = runner.invoke(app, ["eval", "--run", str(tmp_path / "run"), "--gold", str(GOLD), "--n-boot", "50"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "run" / "eval" / "report.md").read_text()
    assert "## Samples and judges" in report
    assert "| judges | overall (overall) | 20 | 20 | " in report and "(1 of 1 pairs)" in report
    table = pd.read_csv(tmp_path / "run" / "eval" / "samples-judges.csv")
    overall = table[(table["rater_set"] == "judges") & (table["kind"] == "overall")].iloc[0]
    assert overall["items"] == 20 and overall["rater_pairs"] == 1
    assert overall["mean_pairwise_kappa"] == pytest.approx(overall["quadratic_kappa_score"])
    assert -1 <= overall["krippendorff_alpha"] <= 1 and -1 <= overall["icc"] <= 1
