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

Selection rates per group come from fairlearn's `MetricFrame` with `selection_rate`; counts from pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, selection_rate
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


def group_rates(selected: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """n, selected, selection rate and excluded per group (index: group); the rate from fairlearn's MetricFrame."""
    known = selected.notna()
    frame = pd.DataFrame(index=pd.Index(sorted(set(groups)), name="group"))
    decided = groups[known]
    frame["n"] = decided.value_counts().reindex(frame.index).fillna(0).astype(int)
    frame["selected"] = selected[known].groupby(decided).sum().reindex(frame.index).fillna(0).astype(int)
    frame["excluded"] = groups[~known].value_counts().reindex(frame.index).fillna(0).astype(int)
    frame["selection_rate"] = math.nan
    if known.any():
        y = selected[known].astype(int).to_numpy()
        groups_of = pd.Series(decided.to_numpy(), name="group")  # a Series: fairlearn refuses a one-item array
        rates = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y, sensitive_features=groups_of).by_group
        frame.loc[rates.index, "selection_rate"] = rates.astype(float)
    return frame


def _reference(frame: pd.DataFrame) -> str | None:
    candidates = frame[(frame.index != NOT_GIVEN) & (frame["n"] > 0)]
    pool = candidates[~candidates["too_small"]]  # a group too small to conclude is never the reference
    if not len(pool):
        return None
    ranked = pool.assign(_name=pool.index).sort_values(["selection_rate", "n", "_name"], ascending=[False, False, True])
    return str(ranked.index[0])


def ratio_interval(selected: int, n: int, ref_selected: int, ref_n: int, options: AuditOptions
                   ) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of (selected/n) / (ref_selected/ref_n), each group resampled alone."""
    if not n or not ref_n:
        return None, None
    rng = np.random.default_rng(options.seed)
    ours = rng.binomial(n, selected / n, options.n_boot) / n
    theirs = rng.binomial(ref_n, ref_selected / ref_n, options.n_boot) / ref_n
    ratios = np.divide(ours, theirs, out=np.full(options.n_boot, np.nan), where=theirs > 0)
    finite = ratios[~np.isnan(ratios)]
    if len(finite) < 0.9 * options.n_boot:
        return None, None  # the reference rate is often 0 in resamples: no interval to trust
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def _compare(row: pd.Series, ref: pd.Series, options: AuditOptions) -> dict[str, object]:
    ratio = row["selection_rate"] / ref["selection_rate"] if ref["selection_rate"] > 0 else math.nan
    table = [[row["selected"], row["n"] - row["selected"]], [ref["selected"], ref["n"] - ref["selected"]]]
    degenerate = not (0 < row["selection_rate"] < 1 and 0 < ref["selection_rate"] < 1)
    low, high = (None, None) if row["too_small"] or degenerate else ratio_interval(
        int(row["selected"]), int(row["n"]), int(ref["selected"]), int(ref["n"]), options)
    note = ("reference rate is 0: no ratio" if math.isnan(ratio) else
            "no interval at a rate of 0% or 100%" if degenerate and not row["too_small"] else "")
    flag = bool(ratio < FOUR_FIFTHS) and not row["too_small"]  # too small to conclude: shown, never flagged
    return {"impact_ratio": ratio, "four_fifths_flag": flag,
            "p_value": float(fisher_exact(table).pvalue), "ratio_low": low, "ratio_high": high, "note": note}


def impact_rows(selected: pd.Series, groups: pd.Series, options: AuditOptions | None = None) -> pd.DataFrame:
    """One row per group of one attribute for one outcome (see the module's definitions)."""
    options = options or AuditOptions()
    frame = group_rates(selected, groups)
    total = int(frame["n"].sum())
    frame["share"] = frame["n"] / total if total else math.nan
    frame["too_small"] = (frame["n"] < MIN_GROUP) | (frame["n"] < MIN_SHARE * total)
    reference = _reference(frame)
    rows = []
    for group, row in frame.iterrows():
        out: dict[str, object] = {"group": group, **row.to_dict(), "reference_group": reference or "",
                                  "impact_ratio": math.nan, "four_fifths_flag": False, "p_value": math.nan,
                                  "ratio_low": None, "ratio_high": None, "note": ""}
        if group == NOT_GIVEN:
            out["note"] = "category not given: counted, not compared"
        elif row["n"] == 0:
            out["note"] = "no decided candidate"
        elif group == reference:
            out.update(impact_ratio=1.0, note="reference (highest rate)")
        elif reference is not None:
            out.update(_compare(row, frame.loc[reference], options))
        else:
            out["note"] = "no group large enough to be the reference: not compared"
        rows.append(out)
    return pd.DataFrame(rows)


RATE_KINDS = {"selection": "pass/fail decision", "scoring": "score above the median of all candidates"}


def impact_table(outcomes: pd.DataFrame, groups: dict[str, pd.Series], options: AuditOptions | None = None
                 ) -> pd.DataFrame:
    """Every outcome (overall first, then each competency), rate kind and attribute, one row per group.

    `outcomes` has one row per (transcript_id, outcome) with `decision` and `score`; `groups` maps an
    attribute to the group of each transcript id (index). Only transcripts in both are audited.
    """
    options = options or AuditOptions()
    tables = []
    order = ["overall", *[o for o in dict.fromkeys(outcomes["outcome"]) if o != "overall"]]
    for outcome in order:
        part = outcomes[outcomes["outcome"] == outcome].set_index("transcript_id")
        name = str(part["name"].iloc[0]) if len(part) else outcome
        for kind, selected in (("selection", decision_selected(part["decision"])),
                               ("scoring", above_median(part["score"].astype(float)))):
            for attribute, group in groups.items():
                ids = part.index.intersection(group.index)
                rows = impact_rows(selected.loc[ids], group.loc[ids], options)
                tables.append(rows.assign(attribute=attribute, outcome=outcome, outcome_name=name, rate_kind=kind))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=IMPACT_COLUMNS + EXTRA_COLUMNS)
    return table[IMPACT_COLUMNS + EXTRA_COLUMNS]


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
