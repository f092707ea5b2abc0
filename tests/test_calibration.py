import numpy as np
import pytest

from grader.agreement.baseline import baseline_predictions
from grader.agreement.calibration import Calibration, fit_mapping, held_out_predictions
from grader.errors import GraderError


def test_isotonic_mapping_fixes_a_model_that_grades_two_levels_soft():
    rng = np.random.default_rng(0)
    gold = rng.integers(1, 4, size=200).astype(float)
    model = np.clip(gold + 2, 1, 5)
    mapping = fit_mapping(model, gold)
    assert [mapping.apply(v) for v in (3, 4, 5)] == [1, 2, 3]
    groups = np.repeat(np.arange(100), 2)
    held_out = held_out_predictions(model, gold, groups)
    assert np.mean(held_out == gold) == 1.0 and np.mean(model == gold) == 0.0


def test_calibration_refuses_another_rubric_or_model(tmp_path):
    cal = Calibration(rubric_id="r", rubric_hash="abc", model="m", prompt_version="p",
                      mappings={"c": fit_mapping(np.array([1.0, 5.0]), np.array([2.0, 4.0]))})
    cal.save(tmp_path / "cal.json")
    loaded = Calibration.load(tmp_path / "cal.json")
    assert loaded.apply("c", 1) == 2 and loaded.apply("c", None) is None and loaded.apply("other", 3) == 3
    loaded.check("abc", "m")
    with pytest.raises(GraderError, match="fitted for rubric abc"):
        loaded.check("xyz", "m")


def test_baseline_learns_words_that_go_with_levels():
    words = {1: "vague maybe dunno", 3: "metric baseline test", 5: "quantified monitoring rollback threshold"}
    gold = np.array([1, 3, 5] * 20, dtype=float)
    texts = [f"{words[int(g)]} filler{i}" for i, g in enumerate(gold)]
    groups = np.arange(len(texts))
    predictions = np.rint(baseline_predictions(texts, gold, groups))
    assert np.mean(predictions == gold) > 0.9


def test_grade_with_calibration_keeps_the_raw_level(fake_server):
    from grader.grading.grade import grade_transcript
    from grader.grading.grades import Settings
    from grader.grading.prompts import load_prompt
    from grader.ingest.chunking import EstimatedTokens
    from grader.ingest.formats import load_transcript
    from grader.ingest.rubric import load_rubric
    from grader.llm.backend import Backend, BackendInfo
    from grader.testing import completion

    from .conftest import RUBRIC, TRANSCRIPTS

    rubric = load_rubric(RUBRIC)
    server = fake_server(lambda body: completion(body))
    backend = Backend(client=server.client(), info=BackendInfo(model="fake", server="x", embedded=False,
                                                              context_tokens=8192))
    everything_is_two = fit_mapping(np.array([1.0, 5.0]), np.array([2.0, 2.0]))
    cal = Calibration(rubric_id=rubric.id, rubric_hash=rubric.content_hash(), model="fake", prompt_version="p",
                      mappings={c.id: everything_is_two for _, c in rubric.criteria()})
    sheet = grade_transcript(load_transcript(TRANSCRIPTS / "short-screen.txt"), rubric, backend, load_prompt(),
                             Settings(model="fake"), EstimatedTokens(), calibration=cal)
    counted = [g for g in sheet.grades if g.counts]
    assert counted and all(g.level == 2 and g.raw_level in range(1, 6) for g in counted)
    assert len({g.raw_level for g in counted}) > 1  # the raw levels differed; calibration mapped them
    assert sheet.run.calibration["rubric_hash"] == rubric.content_hash()
    with pytest.raises(GraderError, match="fitted for rubric"):
        grade_transcript(load_transcript(TRANSCRIPTS / "short-screen.txt"), rubric, backend, load_prompt(),
                         Settings(model="other-model"), EstimatedTokens(), calibration=cal)
