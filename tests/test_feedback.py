"""Feedback a user reads (issue 18): the roles line names who got which role; an unknown --candidate is an
error naming the speakers; Markdown escapes read right; `compare` names its figures; cost is n/a, never a
made-up $0, for a model without a price."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown

from grader import Grader, RunOptions
from grader.agreement.figures import FIGURE_NAMES, METRICS, figure_name, figures, paired_differences, verdict
from grader.agreement.report import CEILING, SHOWN, comparison_lines
from grader.errors import GraderError, TranscriptError
from grader.escape import md, md_code
from grader.grading.grades import CriterionGrade, GradeStatus, Usage
from grader.grading.sheet import render_markdown
from grader.ingest.formats import load_transcript, transcript_from_text
from grader.ingest.rubric import load_rubric
from grader.ingest.transcript import Role
from grader.llm.embedded import MODEL_ALIAS
from grader.runs.batch import BatchStats
from grader.runs.cost import DEFAULT_PRICES, Price, PriceTable
from grader.testing import MODEL

from .hostile_kit import Kit, invoke, make_kit
from .review_fixtures import RUBRIC, make_sheet

SCREEN = ("Dana Reyes: I rebuilt the churn model and cut false alarms by a third.\n"
          "Sam: How did you check it?\n"
          "Dana Reyes: A holdout month and a backtest against last year's model.\n"
          "Sam: What would you do differently?\n"
          "Dana Reyes: Ship the monitoring first.\n")
ROLES_LINE = re.compile(r"Roles: (.*)\.$", re.MULTILINE)


def plain(text: str, **kwargs) -> object:
    return transcript_from_text(text, transcript_id="screen", fmt="plain", **kwargs)


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Iterator[Kit]:
    made = make_kit(tmp_path_factory.mktemp("feedback"))
    yield made
    made.server.shutdown()


# -- 1. the roles line names the speakers -----------------------------------------------------------------------
def test_each_speaker_gets_a_role_and_the_reason_for_it():
    transcript = plain(SCREEN, roles={"dana reyes": Role.candidate})
    assert [a.describe() for a in transcript.speaker_roles] == [
        "Dana Reyes = candidate (named with --candidate)", "Sam = interviewer (guessed: the only other speaker)"]
    assert transcript.roles_by == "given (1), heuristic (1)"  # the JSON field kept as it was
    assert {a.speaker: a.role for a in transcript.speaker_roles} == transcript.speakers()

    guessed = plain(SCREEN)
    assert [a.describe() for a in guessed.speaker_roles] == [
        "Dana Reyes = candidate (guessed: speaks the most)", "Sam = interviewer (guessed: asks the questions)"]
    panel = plain(SCREEN + "Lee: I will take notes.\n", roles={"Dana Reyes": Role.candidate})
    assert [a.describe() for a in panel.speaker_roles][1:] == [
        "Sam = interviewer (guessed: asks the questions)", "Lee = other (guessed: neither interviewer nor candidate)"]
    named = plain("Interviewer: Why that model?\nSam: It fit the trend.\nInterviewer: And then?\nSam: Shipped it.\n")
    assert [a.describe() for a in named.speaker_roles] == [
        "Interviewer = interviewer (from the name)", "Sam = candidate (guessed: the only other speaker)"]


def test_the_markdown_sheet_says_who_got_which_role(tmp_path):
    path = tmp_path / "screen.txt"
    path.write_text(SCREEN, encoding="utf-8")
    rubric = load_rubric(RUBRIC)
    sheet = make_sheet(load_transcript(path, roles={"Dana Reyes": Role.candidate}), rubric)
    text = render_markdown(sheet, rubric)
    assert ROLES_LINE.search(text)[1] == ("Dana Reyes = candidate (named with --candidate), "
                                          "Sam = interviewer (guessed: the only other speaker)")
    # a sheet written before the roles were recorded still reads: it shows the counts it has
    old = sheet.model_copy(update={"transcript": sheet.transcript.model_copy(update={"speaker_roles": []})})
    assert ROLES_LINE.search(render_markdown(old, rubric))[1] == "given (1), heuristic (1)"


def test_a_speaker_name_on_the_roles_line_is_escaped():
    rubric = load_rubric(RUBRIC)
    segments = [{"speaker": "Interviewer", "text": "Why that model?"},
                {"speaker": "<b>Eve</b> [x](javascript:y)", "text": "Because it fit the trend."}]
    hostile = transcript_from_text(json.dumps(segments), transcript_id="eve", fmt="json")
    line = ROLES_LINE.search(render_markdown(make_sheet(hostile, rubric), rubric))[1]
    assert "\\<b\\>Eve\\</b\\> \\[x\\](javascript:y) = candidate" in line and "<b>" not in line


# -- 2. an unknown --candidate / --interviewer is an error naming the speakers ------------------------------------
@pytest.mark.parametrize(("roles", "where", "named"), [
    ({"Dan": Role.candidate}, "--candidate", "'Dan'"),
    ({"Dana Reyes": Role.candidate, "Pat": Role.interviewer}, "--interviewer", "'Pat'"),
    ({"Pat": Role.interviewer, "Lee": Role.interviewer}, "--interviewer", "'Pat', 'Lee' are"),
])
def test_a_role_given_to_no_speaker_is_an_error_naming_the_speakers(tmp_path, roles, where, named):
    path = tmp_path / "screen.txt"
    path.write_text(SCREEN, encoding="utf-8")
    with pytest.raises(TranscriptError) as info:
        load_transcript(path, roles=roles)
    assert isinstance(info.value, GraderError) and info.value.where == where and info.value.path == str(path)
    assert str(info.value).startswith(f"{path} ({where}): {named}")
    assert info.value.fix == "speakers in this transcript: Dana Reyes, Sam; give one of them"


@pytest.mark.parametrize("given", ["DANA REYES", " dana  reyes ", "Dana\u200b Reyes", "D\u0430na Reyes"])
def test_a_given_name_finds_its_speaker_however_it_is_spelled(given):
    """Case, spaces and invisible characters (the speaker's own identity), and look-alike letters (here a
    Cyrillic а) when they single out one speaker."""
    transcript = plain(SCREEN, roles={given: Role.interviewer})
    assert transcript.speakers() == {"Dana Reyes": Role.interviewer, "Sam": Role.candidate}


def test_a_name_given_as_both_roles_is_the_candidate():
    transcript = plain(SCREEN, roles={"Sam": Role.interviewer, "sam": Role.candidate})
    assert transcript.speakers()["Sam"] is Role.candidate


def test_a_long_list_of_speakers_is_cut_in_the_error():
    text = "".join(f"Speaker {i}: Is this my answer number {i}?\n" for i in range(30))
    with pytest.raises(TranscriptError) as info:
        plain(text, roles={"Nobody": Role.candidate})
    assert info.value.fix.startswith("speakers in this transcript: Speaker 0, Speaker 1,")
    assert "Speaker 19 and 10 more; give one of them" in info.value.fix and "Speaker 20," not in info.value.fix


def test_in_a_batch_an_unknown_candidate_fails_that_transcript_alone(kit, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "dana.txt").write_text(SCREEN, encoding="utf-8")
    (folder / "lee.txt").write_text(SCREEN.replace("Dana Reyes", "Lee"), encoding="utf-8")
    run = tmp_path / "run"
    result = invoke("batch", folder, "--run", run, "--candidate", "Dana Reyes", *kit.grading, env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 1, result.output  # a failed transcript: reported, the others graded
    lee = folder / "lee.txt"
    assert (f"failed transcript {lee}: {lee} (--candidate): 'Dana Reyes' is not a speaker of this transcript. "
            "Fix: speakers in this transcript: Lee, Sam; give one of them.") in text
    assert "1 / 0 / 1" in text  # graded / skipped / failed
    sheet = (run / "sheets" / "dana.md").read_text(encoding="utf-8")
    assert ROLES_LINE.search(sheet)[1] == ("Dana Reyes = candidate (named with --candidate), "
                                           "Sam = interviewer (guessed: the only other speaker)")
    assert not (run / "sheets" / "lee.md").exists()


# -- 3. Markdown escapes that read right --------------------------------------------------------------------------
COMMONMARK = MarkdownIt("commonmark").enable(["table", "strikethrough"])
PIECES = [*"ab1 &;#<>/![]()|`*_~$=+-.:\\\"'\u00a0\n\t", "&amp;", "&#60;", "&#x3C;", "<b>", "</i>", "<!--", "x:y",
          "http://x.y", "<a@b.co>", "1. ", "- ", "# ", "---", "==="]
MARKUPISH = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
ANY_TEXT = st.one_of(MARKUPISH, st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60))


def shown(text: str) -> str:
    """What a reader should see: the text with its whitespace collapsed, as HTML text."""
    return escape(" ".join(text.split()), quote=False).replace('"', "&quot;")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT)
def test_escaped_text_renders_as_exactly_its_characters_in_a_paragraph_a_table_cell_and_a_code_span(text):
    """CommonMark (markdown-it-py, the parser of rich's Markdown too): no tag, link, entity, emphasis, list,
    heading or extra table cell can be formed, and every character is shown as it was (no `&amp;`)."""
    expected = shown(text)
    assert COMMONMARK.render(md(text)) == (f"<p>{expected}</p>\n" if expected else "")
    cell = COMMONMARK.render(f"| head |\n|---|\n| {md(text)} |\n")
    assert re.search(r"<tbody>\n<tr>\n<td>(.*)</td>\n</tr>\n</tbody>", cell, re.DOTALL)[1] == expected
    if expected:
        assert COMMONMARK.render(f"model {md_code(text)}") == f"<p>model <code>{expected}</code></p>\n"


@pytest.mark.parametrize(("text", "raw"), [
    ("Data & Analytics", "Data & Analytics"),  # was "Data &amp; Analytics"
    ("&lt;script&gt;", "\\&lt;script\\&gt;"),  # an entity typed in the text is shown as typed, not decoded
    ("<script>alert(1)</script>", "\\<script\\>alert(1)\\</script\\>"),
    ("-0.12", "-0.12"),
    ("- not a list", "\\- not a list"),
    ("1. not a list", "1\\. not a list"),
    ("# not a heading", "\\# not a heading"),
    ("#tag", "#tag"),
])
def test_escapes_are_the_few_that_are_needed(text, raw):
    assert md(text) == raw


def test_rich_shows_an_ampersand_in_a_heading_and_a_table_cell_as_typed():
    console = Console(width=120, record=True, color_system=None)
    console.print(Markdown(f"## {md('Data & Analytics <b>')}\n\n| a |\n|---|\n| {md('Data & Analytics')} |\n\n"
                           f"rubric {md_code('data_&_analytics')}"))
    screen = console.export_text()
    assert "Data & Analytics <b>" in screen and screen.count("Data & Analytics") == 2 and "&amp;" not in screen
    assert "data_&_analytics" in screen and "\\" not in screen


@pytest.mark.parametrize("text", ["a`b", "`start", "end`", "``x`` y"])
def test_a_code_span_cannot_be_closed_by_its_text(text):
    assert COMMONMARK.render(md_code(text)) == f"<p><code>{escape(text, quote=False)}</code></p>\n"


# -- 4. compare names its figures ---------------------------------------------------------------------------------
def test_every_figure_has_a_name_and_the_eval_report_keeps_its_headers():
    assert set(METRICS) <= set(FIGURE_NAMES)
    assert [h for _, h in SHOWN] == ["κ quadratic", "κ linear", "κ", "exact", "±1", "Spearman", "MAE", "bias"]
    assert [h for _, h in CEILING] == ["human κ quadratic (each rater against the others, mean)",
                                       "Krippendorff's α (ordinal)"]
    assert figure_name("quadratic_kappa_score") == "Cohen's kappa (quadratic)"
    assert figure_name("something_new") == "something_new"


def small_comparison() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    gold = rng.integers(1, 6, 24).astype(float)
    run_a = np.clip(gold + rng.integers(-2, 3, 24), 1, 5)
    run_b = np.clip(gold + rng.integers(-1, 2, 24), 1, 5)
    groups = [f"c{i // 2}" for i in range(24)]
    a, b = figures(run_a, gold, n_boot=0), figures(run_b, gold, n_boot=0)
    diffs = paired_differences(run_a, run_b, gold, groups, n_boot=200)
    rows = [{"scope": "overall", "kind": "overall", "pairs": 24, "figure": m, "a": a[m].value, "b": b[m].value,
             "difference": d.value, "low": d.low, "high": d.high, "verdict": verdict(m, d), "undefined": d.undefined,
             "fallback": d.fallback} for m, d in diffs.items()]
    rows.append({"scope": "clarity", "kind": "criterion", "pairs": 2, "figure": "cohen_kappa_score", "a": None,
                 "b": None, "difference": None, "low": None, "high": None, "verdict": "undefined",
                 "undefined": "only 2 pair(s); at least 3 are needed", "fallback": None})
    return pd.DataFrame(rows)


def test_comparison_lines_name_each_figure_for_a_reader():
    table = small_comparison()
    lines = comparison_lines(table, "bca")
    assert lines[0] == "| scope | pairs | figure | A | B | B − A [95% paired BCa CI] | verdict |"
    assert len(lines) == 2 + len(table)
    cells = [line.removeprefix("| ").removesuffix(" |").split(" | ") for line in lines[2:]]
    assert [c[2].strip() for c in cells] == [FIGURE_NAMES[m].name for m in table["figure"]]
    text = "\n".join(lines)
    assert not re.search(r"\w+_(score|error)\b", text)  # no identifier left
    for name in ("Cohen's kappa (quadratic)", "exact agreement", "within ±1", "mean absolute error"):
        assert f"| {name} |" in text
    first = table.iloc[0]
    assert cells[0] == ["overall (overall)", "24", figure_name(first["figure"]), f"{first['a']:.2f}",
                        f"{first['b']:.2f}", f"{first['difference']:+.2f} [{first['low']:+.2f}, {first['high']:+.2f}]"
                        + (" (percentile)" if isinstance(first["fallback"], str) else ""), first["verdict"]]
    assert lines[-1] == ("| clarity (criterion) | 2 | Cohen's kappa (unweighted) | – | – | "
                         "undefined (only 2 pair(s); at least 3 are needed) | undefined |")
    assert comparison_lines(table, "percentile")[0].endswith("[95% paired percentile CI] | verdict |")


# -- 5. cost: n/a for a model without a price, $0 only for a priced run that sent nothing -------------------------
def test_the_embedded_model_has_no_price():
    usage = Usage(prompt_tokens=9643, completion_tokens=1475)
    assert DEFAULT_PRICES.cost(MODEL_ALIAS, usage) is None and not DEFAULT_PRICES.has_price(MODEL_ALIAS)
    assert DEFAULT_PRICES.cost("gpt-4.1-mini", usage) == pytest.approx((9643 * 0.40 + 1475 * 1.60) / 1e6)


def _batch(kit: Kit, run: Path, prices: PriceTable) -> BatchStats:
    with Grader(kit.rubric, base_url=kit.server.base_url, model=MODEL) as grader:
        return grader.batch([kit.good], run, prices=prices, options=RunOptions(write_sheets=False)).stats


def test_a_model_without_a_price_costs_n_a_whether_or_not_calls_were_sent(kit, tmp_path):
    first = _batch(kit, tmp_path / "run", DEFAULT_PRICES)
    resumed = _batch(kit, tmp_path / "run", DEFAULT_PRICES)
    assert (first.calls, resumed.calls, resumed.transcripts_skipped) == (1, 0, 1)
    assert first.cost is None and resumed.cost is None  # the resumed run was $0.0000


def test_a_priced_model_costs_what_it_sent_and_a_resumed_run_that_sent_nothing_costs_zero(kit, tmp_path):
    priced = PriceTable(models={MODEL: Price(input=1.0, output=2.0)})
    first = _batch(kit, tmp_path / "run", priced)
    resumed = _batch(kit, tmp_path / "run", priced)
    assert first.cost == pytest.approx(priced.cost(MODEL, first.usage)) and first.cost > 0
    assert resumed.calls == 0 and resumed.cost == 0.0


def test_a_resumed_batch_prints_n_a_for_a_model_without_a_price(kit, tmp_path):
    args = ("batch", kit.good, "--run", tmp_path / "run", *kit.grading)
    invoke(*args)
    again = invoke(*args, env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert "n/a (no price for this model)" in again.output and "$0.0000" not in again.output


def _call(cached: int) -> CriterionGrade:
    return CriterionGrade(competency_id="c", criterion_id="k", status=GradeStatus.scored, level=3, model="m",
                          usage=Usage(prompt_tokens=1000, completion_tokens=10, cached_prompt_tokens=cached))


def test_the_cache_hit_rate_is_unknown_until_the_server_reports_a_cached_token():
    stats = BatchStats()
    stats.add_call(_call(0), None)
    assert stats.cache_hit_rate is None  # no cached token reported: unknown, never a made-up 0%
    stats.add_call(_call(500), None)
    assert stats.cache_reported and stats.cache_hit_rate == pytest.approx(500 / 2000)


def test_nfd_speaker_names_keep_their_first_spelling_on_the_roles_line():
    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    transcript = plain(f"Sam: Why?\n{nfc}: It fit.\nSam: And?\n{nfd}: It shipped.\n", roles={nfd: Role.candidate})
    assert [a.describe() for a in transcript.speaker_roles][1] == f"{nfc} = candidate (named with --candidate)"
