"""Audit speed (issue 21, defect 7): 40 demographic columns took about 260 s, one fairlearn MetricFrame per
category, outcome and rate kind. The counts now come from one pass per category; the table must be the one
the fairlearn-based code gave, figure for figure (`evals.bench_audit` keeps that code to compare and time).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import grader.audit.impact as impact
from evals.bench_audit import fairlearn_impact_rows, fairlearn_impact_table, same_figures, synthetic
from grader.audit.demographics import NOT_GIVEN
from grader.audit.impact import AuditOptions, impact_rows, impact_table

OPTIONS = AuditOptions(n_boot=300)  # fewer resamples: the same code path, quicker


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_table_is_the_fairlearn_based_one_on_random_data(seed):
    rng = np.random.default_rng(seed)
    outcomes, groups = synthetic(int(rng.integers(60, 250)), int(rng.integers(2, 5)), int(rng.integers(0, 2)),
                                 seed=seed)
    new, old = impact_table(outcomes, groups, OPTIONS), fairlearn_impact_table(outcomes, groups, OPTIONS)
    assert same_figures(new, old) == []
    assert new["four_fifths_flag"].any() and new["ratio_low"].notna().any()  # too small: see the edge cases
    for column in ["n", "selected", "selection_rate", "impact_ratio", "p_value"]:
        assert new[column].dtype.kind in "if", column  # numbers, as before


EDGE_CASES = {  # selected (1, 0 or NaN) and the group of each candidate
    "undetermined only in a group": ([1, 0, 1, 1, 1, 0, 1] + [math.nan] * 3, list("aaaaaaa") + ["b"] * 3),
    "every group too small": ([1, 0, 1, 0], list("abcd")),
    "reference rate is 0": ([0.0] * 12 + [1.0] * 2, ["a"] * 6 + ["b"] * 6 + ["c"] * 2),
    "rates of 0% and 100%": ([1.0] * 10 + [0.0] * 10, ["a"] * 10 + ["b"] * 10),
    "a tie on the rate, then on n": ([1, 0] * 15 + [1, 1, 0, 0, 1, 0], ["b"] * 10 + ["a"] * 20 + ["c"] * 6),
    "not given, and one group": ([1, 0, 1, 1, 0, 1, 1, 0], [NOT_GIVEN] * 3 + ["only"] * 5),
    "nothing decided": ([math.nan] * 6, ["a"] * 3 + ["b"] * 3),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_match_the_fairlearn_based_rows(case):
    values, names = EDGE_CASES[case]
    ids = [f"t{i}" for i in range(len(values))]
    selected, groups = pd.Series(values, index=ids, dtype=float), pd.Series(names, index=ids)
    new = impact_rows(selected, groups, OPTIONS)
    old = fairlearn_impact_rows(selected, groups, OPTIONS)
    assert same_figures(new, old[new.columns]) == [] and set(new.columns) == set(old.columns)


def test_no_metric_frame_per_category_and_each_test_once_per_table(monkeypatch):
    """What made it slow: a MetricFrame (and a pandas frame) per category; now counts, and a cache of the tests."""
    import fairlearn.metrics

    def refuse(*args, **kwargs):
        raise AssertionError("a MetricFrame per category is what took 260 s")

    monkeypatch.setattr(fairlearn.metrics, "MetricFrame", refuse)
    monkeypatch.setattr(impact, "MetricFrame", refuse, raising=False)
    impact.fisher_p.cache_clear()
    outcomes, groups = synthetic(300, 6, 1)
    table = impact_table(outcomes, groups, OPTIONS)
    compared = table[table["p_value"].notna()]
    tables = compared[["selected", "n", "reference_group"]].drop_duplicates()
    assert impact.fisher_p.cache_info().currsize <= len(tables) <= len(compared)
