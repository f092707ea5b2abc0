"""Adverse-impact figures: selection and scoring rates per group, impact ratios, tests and intervals.

Definitions (New York City Local Law 144 rules, DCWP 2023; the EEOC's four-fifths rule):
- selection rate = selected / n, where n counts the group's candidates with a decision (pass or
  fail); undetermined decisions are counted in `excluded` and left out, never counted as fails;
- scoring rate = share of the group scoring above the median score of all candidates audited
  (candidates with no score are excluded);
- impact ratio = a group's rate / the rate of the reference group, the group with the highest rate
  among the groups large enough to conclude (and with the category given);
- four-fifths flag: impact ratio below 0.8;
- too small: under 2% of the candidates or under 5 people: reported with its counts, marked, never
  flagged (nor counted below four fifths) and never the reference;
- p value: Fisher's exact test (two-sided, scipy) of the group against the reference group;
- interval: 95% percentile bootstrap of the impact ratio, each group resampled on its own; none for a
  group too small to conclude, nor when either rate is 0% or 100% (the resamples could not vary).

Counts and rates of every group of an attribute come from one pass over that attribute's codes
(`numpy.bincount`): selection rate = selected / n, the figure fairlearn's `selection_rate` gives, which
was computed here through one `MetricFrame` per category, outcome and rate kind (820 categories for
40 columns: most of an audit's time). `tests/test_audit_speed.py` checks the table is the same as the
fairlearn-based one, figure for figure, and `evals/bench_audit.py` measures both. Fisher's test is
scipy's and the interval numpy's, each computed once per distinct table (`functools.lru_cache`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from grader.audit.demographics import NOT_GIVEN
from grader.audit.outcomes import FAIL, PASS

FOUR_FIFTHS = 0.8
MIN_SHARE, MIN_GROUP = 0.02, 5
IMPACT_COLUMNS = ["attribute", "group", "n", "selected", "selection_rate", "impact_ratio", "four_fifths_flag",
                  "p_value", "too_small"]
EXTRA_COLUMNS = ["outcome", "outcome_name", "rate_kind", "excluded", "share", "ratio_low", "ratio_high",
                 "reference_group", "note"]


@dataclass(frozen=True)
class AuditOptions:
    n_boot: int = 2000  # resamples of each impact ratio (cheap: binomial draws)
    seed: int = 0
    agreement_boot: int = 200  # resamples of each agreement figure per group (each one a kappa: costly)


def decision_selected(decisions: pd.Series) -> pd.Series:
    """1 for pass, 0 for fail, NaN for undetermined (left out)."""
    return decisions.map({PASS: 1.0, FAIL: 0.0}).astype(float)


def above_median(scores: pd.Series) -> pd.Series:
    """1 when the score is above the median of all scores given, 0 when not, NaN with no score."""
    median = scores.median()
    return (scores > median).astype(float).where(scores.notna())


@dataclass(frozen=True)
class _Counts:
    n: np.ndarray  # candidates with a decision, per group code
    selected: np.ndarray
    excluded: np.ndarray  # without a decision (undetermined, or no score): left out of the rate
    rate: np.ndarray  # selected / n; NaN with nobody decided


def _codes(groups: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each candidate's group as a code into the sorted group names."""
    names = sorted(set(groups))
    return pd.Index(names).get_indexer(groups), names


def _counts(selected: np.ndarray, codes: np.ndarray, size: int) -> _Counts:
    known = ~np.isnan(selected)
    n = np.bincount(codes[known], minlength=size)
    chosen = np.bincount(codes[known], weights=selected[known], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, chosen / n, math.nan)  # fairlearn's selection_rate: the mean of the 0/1 decisions
    return _Counts(n=n, selected=chosen.astype(int), excluded=np.bincount(codes[~known], minlength=size), rate=rate)


def _reference(groups: list[dict[str, Any]]) -> str | None:
    """The group with the highest rate (then the most people, then the first name) among those large enough."""
    pool = [g for g in groups if g["group"] != NOT_GIVEN and g["n"] > 0 and not g["too_small"]]
    if not pool:  # a group too small to conclude is never the reference
        return None
    return str(min(pool, key=lambda g: (-g["selection_rate"], -g["n"], g["group"]))["group"])


def ratio_interval(selected: int, n: int, ref_selected: int, ref_n: int, options: AuditOptions
                   ) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of (selected/n) / (ref_selected/ref_n), each group resampled alone."""
    if not n or not ref_n:
        return None, None
    return _bootstrap(selected, n, ref_selected, ref_n, options.n_boot, options.seed)


@functools.lru_cache(maxsize=1 << 16)
def _bootstrap(selected: int, n: int, ref_selected: int, ref_n: int, n_boot: int, seed: int
               ) -> tuple[float | None, float | None]:
    rng = np.random.default_rng(seed)  # the same seed for every pair: the interval is a function of the counts
    ours = rng.binomial(n, selected / n, n_boot) / n
    theirs = rng.binomial(ref_n, ref_selected / ref_n, n_boot) / ref_n
    ratios = np.divide(ours, theirs, out=np.full(n_boot, np.nan), where=theirs > 0)
    finite = ratios[~np.isnan(ratios)]
    if len(finite) < 0.9 * n_boot:
        return None, None  # the reference rate is often 0 in resamples: no interval to trust
    low, high = np.percentile(finite, [2.5, 97.5])  # one partition for both: the same order statistics
    return float(low), float(high)


@functools.lru_cache(maxsize=1 << 16)
def fisher_p(selected: int, n: int, ref_selected: int, ref_n: int) -> float:
    """Two-sided p value of Fisher's exact test (scipy) of a group's selections against the reference's."""
    return float(fisher_exact([[selected, n - selected], [ref_selected, ref_n - ref_selected]]).pvalue)


def _compare(row: dict[str, Any], ref: dict[str, Any], options: AuditOptions) -> dict[str, object]:
    rate, ref_rate = row["selection_rate"], ref["selection_rate"]
    ratio = rate / ref_rate if ref_rate > 0 else math.nan
    degenerate = not (0 < rate < 1 and 0 < ref_rate < 1)
    low, high = (None, None) if row["too_small"] or degenerate else ratio_interval(
        row["selected"], row["n"], ref["selected"], ref["n"], options)
    note = ("reference rate is 0: no ratio" if math.isnan(ratio) else
            "no interval at a rate of 0% or 100%" if degenerate and not row["too_small"] else "")
    flag = bool(ratio < FOUR_FIFTHS) and not row["too_small"]  # too small to conclude: shown, never flagged
    return {"impact_ratio": ratio, "four_fifths_flag": flag,
            "p_value": fisher_p(row["selected"], row["n"], ref["selected"], ref["n"]),
            "ratio_low": low, "ratio_high": high, "note": note}


ROW_COLUMNS = ["group", "n", "selected", "excluded", "selection_rate", "share", "too_small", "reference_group",
               "impact_ratio", "four_fifths_flag", "p_value", "ratio_low", "ratio_high", "note"]
_DTYPES = {"n": "int64", "selected": "int64", "excluded": "int64", "selection_rate": "float64", "share": "float64",
           "too_small": "bool", "impact_ratio": "float64", "four_fifths_flag": "bool", "p_value": "float64",
           "ratio_low": "float64", "ratio_high": "float64"}


def _frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=columns)
    return frame.astype({c: t for c, t in _DTYPES.items() if c in columns})  # an interval that is None is NaN


def _rows(counts: _Counts, names: list[str], options: AuditOptions) -> list[dict[str, Any]]:
    """One record per group present (see the module's definitions)."""
    present = np.flatnonzero((counts.n + counts.excluded) > 0)
    total = int(counts.n.sum())
    groups = []
    for code in present:
        n = int(counts.n[code])
        groups.append({"group": names[code], "n": n, "selected": int(counts.selected[code]),
                       "excluded": int(counts.excluded[code]), "selection_rate": float(counts.rate[code]),
                       "share": n / total if total else math.nan,
                       "too_small": bool(n < MIN_GROUP or n < MIN_SHARE * total)})
    reference = _reference(groups)
    ref = next((g for g in groups if g["group"] == reference), None)
    rows = []
    for row in groups:
        out: dict[str, Any] = {**row, "reference_group": reference or "", "impact_ratio": math.nan,
                               "four_fifths_flag": False, "p_value": math.nan, "ratio_low": None,
                               "ratio_high": None, "note": ""}
        if row["group"] == NOT_GIVEN:
            out["note"] = "category not given: counted, not compared"
        elif row["n"] == 0:
            out["note"] = "no decided candidate"
        elif ref is not None and row["group"] == reference:
            out.update(impact_ratio=1.0, note="reference (highest rate)")
        elif ref is not None:
            out.update(_compare(row, ref, options))
        else:
            out["note"] = "no group large enough to be the reference: not compared"
        rows.append(out)
    return rows


def impact_rows(selected: pd.Series, groups: pd.Series, options: AuditOptions | None = None) -> pd.DataFrame:
    """One row per group of one attribute for one outcome (see the module's definitions)."""
    codes, names = _codes(groups)
    counts = _counts(selected.to_numpy(dtype=float, na_value=np.nan), codes, len(names))
    return _frame(_rows(counts, names, options or AuditOptions()), ROW_COLUMNS)


RATE_KINDS = {"selection": "pass/fail decision", "scoring": "score above the median of all candidates"}


def impact_table(outcomes: pd.DataFrame, groups: dict[str, pd.Series], options: AuditOptions | None = None
                 ) -> pd.DataFrame:
    """Every outcome (overall first, then each competency), rate kind and attribute, one row per group.

    `outcomes` has one row per (transcript_id, outcome) with `decision` and `score`; `groups` maps an
    attribute to the group of each transcript id (index). Only transcripts in both are audited. Each
    attribute's groups are coded once; each outcome, rate kind and attribute is then one pass of counts.
    """
    options = options or AuditOptions()
    coded = {attribute: (group.index, *_codes(group)) for attribute, group in groups.items()}
    records: list[dict[str, Any]] = []
    order = ["overall", *[o for o in dict.fromkeys(outcomes["outcome"]) if o != "overall"]]
    for outcome in order:
        part = outcomes[outcomes["outcome"] == outcome].set_index("transcript_id")
        name = str(part["name"].iloc[0]) if len(part) else outcome
        aligned: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per demographics index: positions in both
        for kind, selected in (("selection", decision_selected(part["decision"])),
                               ("scoring", above_median(part["score"].astype(float)))):
            values = selected.to_numpy(dtype=float, na_value=np.nan)
            for attribute, (index, codes, names) in coded.items():
                if id(index) not in aligned:  # the attributes of one demographics file share its index
                    ids = part.index.intersection(index)
                    aligned[id(index)] = (part.index.get_indexer(ids), index.get_indexer(ids))
                ours, theirs = aligned[id(index)]
                extra = {"attribute": attribute, "outcome": outcome, "outcome_name": name, "rate_kind": kind}
                records += [{**row, **extra} for row in _rows(_counts(values[ours], codes[theirs], len(names)),
                                                             names, options)]
    return _frame(records, IMPACT_COLUMNS + EXTRA_COLUMNS)


def score_differences(outcomes: pd.DataFrame, groups: dict[str, pd.Series]) -> pd.DataFrame:
    """Standardised mean score difference per group: (group mean − mean of everyone else) / pooled SD.

    Cohen's d against the rest of the candidates audited, for the overall score and each competency's.
    """
    rows = []
    for outcome, part in outcomes.groupby("outcome", sort=False):
        scores = part.set_index("transcript_id")["score"].astype(float)
        for attribute, group in groups.items():
            ids = scores.index.intersection(group.index)
            s, g = scores.loc[ids].dropna(), group.loc[ids]
            for name in sorted(set(g)):
                inside, rest = s[g.loc[s.index] == name], s[g.loc[s.index] != name]
                rows.append({"outcome": outcome, "attribute": attribute, "group": name, "n": len(inside),
                             "mean_score": inside.mean() if len(inside) else math.nan,
                             "mean_others": rest.mean() if len(rest) else math.nan,
                             "smd": cohen_d(inside.to_numpy(), rest.to_numpy())})
    return pd.DataFrame(rows, columns=["outcome", "attribute", "group", "n", "mean_score", "mean_others", "smd"])


def cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a − mean b) / pooled standard deviation; NaN when undefined (fewer than 2 each, or no spread)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else math.nan
