"""Test-retest reliability: how far the same transcripts, graded again, get the same levels.

The input is one long frame, `transcript_id, criterion_id, rater, level`: a rater is a run ("A", the
run under evaluation, and "B", its retest), and later one of k samples or one judge of a panel. A
missing or NaN level is a grade without a level (unscored, insufficient evidence, no verified
evidence) or an item that rater did not grade: it is counted, never paired and never a number.

Per scope (each criterion, competency and overall; `evaluate.scopes`) `reliability_table` gives:

- between the two raters of `pair` (A and B), on the items both gave a level: quadratic-weighted
  Cohen's kappa (scikit-learn, through `figures.figures`) and the share of levels that changed,
  with 95% bootstrap intervals resampling candidates (`figures.figures`: the share is one minus
  exact agreement, and both interval kinds respect that transformation);
- across every rater, on the items with a level from all of them: ICC(2,1) with its F-based 95%
  interval (`icc_2_1`, checked against pingouin in tests/test_reliability.py);
- across every rater, missing levels allowed: Krippendorff's alpha (ordinal; the `krippendorff`
  package through `figures.krippendorff_alpha`), with a bootstrap interval resampling candidates;
- counts: items, paired items, items with a level in only one of the pair, and in neither.

A figure that is not defined for the data (too few items, no variance) is NaN in the table with the
reason in its `*_undefined` column, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from grader.agreement.evaluate import KEYS, Step, scopes
from grader.agreement.figures import (
    CONFIDENCE,
    DEFAULT_INTERVAL,
    MIN_ITEMS,
    Figure,
    IntervalKind,
    Resamples,
    confidence_interval,
    figures,
    krippendorff_alpha,
)
from grader.ingest.rubric import Rubric

COLUMNS = [*KEYS, "rater", "level"]
PAIR = ("A", "B")  # the run under evaluation and its retest
# the reliability figures, as a reader reads them (`name`) and as a column header (`short`)
RELIABILITY_FIGURES: dict[str, tuple[str, str]] = {
    "quadratic_kappa_score": ("Cohen's kappa (quadratic), A against B", "κ quadratic A–B"),
    "changed_share": ("share of levels changed from A to B", "changed A→B"),
    "icc": ("ICC(2,1): two-way random effects, absolute agreement, single rater", "ICC(2,1)"),
    "krippendorff_alpha": ("Krippendorff's α (ordinal) across every run", "Krippendorff's α (ordinal)"),
}
_TINY = 1e-12  # a mean square this small (relative to the data's scale) is zero up to rounding


@dataclass(frozen=True)
class ICC:
    """ICC(2,1) of an items x raters matrix with its 95% interval; NaN with the reason where undefined.

    `interval_undefined` says why a defined ICC has no interval. `msr`, `msc`, `mse` are the mean
    squares of items (rows), raters (columns) and the residual of the two-way ANOVA behind it.
    """

    value: float
    low: float
    high: float
    items: int
    raters: int
    undefined: str | None = None
    interval_undefined: str | None = None
    msr: float = math.nan
    msc: float = math.nan
    mse: float = math.nan


def icc_2_1(ratings: np.ndarray | Sequence[Sequence[float]], confidence: float = CONFIDENCE) -> ICC:
    """ICC(2,1) of an items x raters matrix: two-way random effects, absolute agreement, single rater.

    Shrout & Fleiss (1979) ICC(2,1), which McGraw & Wong (1996) call ICC(A,1). From the two-way
    ANOVA without replication of n items by k raters (items with a missing level are left out, as
    pingouin's `nan_policy="omit"` does), with MSR, MSC and MSE the mean squares of the items, the
    raters and the residual:

        ICC = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)

    The interval is McGraw & Wong's (1996, table 7, case 2A) F-based one, with Satterthwaite's
    degrees of freedom v for the denominator (a' = k ICC, b' = n (1 + (k - 1) ICC) - k ICC):

        v  = (n - 1)(k - 1) (a' MSC/MSE + b')^2 / ((n - 1) (a' MSC/MSE)^2 + b'^2)
        F* = F(1 - alpha/2; n - 1, v),  F_* = F(1 - alpha/2; v, n - 1)
        low  = n (MSR - F* MSE) / (F* (k MSC + (kn - k - n) MSE) + n MSR)
        high = n (F_* MSR - MSE) / (k MSC + (kn - k - n) MSE + n F_* MSR)

    Undefined (NaN with the reason) for fewer than two raters, fewer than `MIN_ITEMS` complete items,
    or no variance at all. Raters who agree on every item (MSE = MSC = 0) have ICC 1 and the interval
    [1, 1], which the bounds above give whatever v is. With no residual variance but a constant shift
    between raters (MSE = 0 < MSC) the ICC is defined but v is not: `interval_undefined` says so.
    """
    matrix = np.asarray(ratings, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        k = matrix.shape[1] if matrix.ndim == 2 else 0
        return _icc_undefined("needs two or more raters", 0, k)
    matrix = matrix[~np.isnan(matrix).any(axis=1)]
    n, k = matrix.shape
    if n < MIN_ITEMS:
        return _icc_undefined(f"only {n} item(s) with a level from every rater; at least {MIN_ITEMS} are needed",
                              n, k)
    grand = matrix.mean()
    rows, cols = matrix.mean(axis=1), matrix.mean(axis=0)
    msr = k * float(np.sum((rows - grand) ** 2)) / (n - 1)
    msc = n * float(np.sum((cols - grand) ** 2)) / (k - 1)
    residual = matrix - rows[:, None] - cols[None, :] + grand
    mse = float(np.sum(residual**2)) / ((n - 1) * (k - 1))
    scale = max(msr, msc, mse)
    if scale <= _TINY:
        return _icc_undefined(f"every item got one and the same level ({matrix[0, 0]:g}) from every rater: no "
                              "variance, so the ICC is 0/0", n, k)
    value = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    found = ICC(value, math.nan, math.nan, n, k, msr=msr, msc=msc, mse=mse)
    if mse <= _TINY * scale and msc <= _TINY * scale:
        return _replace_interval(found, 1.0, 1.0)  # every rater gave every item the same level: both bounds are 1
    if mse <= _TINY * scale:
        return _replace_interval(found, reason="no residual variance (each rater's levels are another's plus a "
                                        "constant): the F-based interval is undefined")
    a = k * value
    b = n * (1 + (k - 1) * value) - k * value
    fj = msc / mse
    denominator = (n - 1) * a**2 * fj**2 + b**2  # 0 when MSC = 0 and b' = 0 (an ICC of -n/(n - 2)... e.g. -2 at n 4)
    v = (n - 1) * (k - 1) * (a * fj + b) ** 2 / denominator if denominator > 0 else math.nan
    if not (math.isfinite(v) and v > 0):
        return _replace_interval(found, reason="the interval's degrees of freedom are not defined for these data")
    tail = 1 - (1 - confidence) / 2
    f_upper, f_lower = stats.f.ppf(tail, n - 1, v), stats.f.ppf(tail, v, n - 1)
    spread = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_upper * mse) / (f_upper * spread + n * msr)
    high = n * (f_lower * msr - mse) / (spread + n * f_lower * msr)
    return _replace_interval(found, float(low), float(high))


def _icc_undefined(reason: str, n: int, k: int) -> ICC:
    return ICC(math.nan, math.nan, math.nan, n, k, undefined=reason)


def _replace_interval(icc: ICC, low: float = math.nan, high: float = math.nan, reason: str | None = None) -> ICC:
    return ICC(icc.value, low, high, icc.items, icc.raters, icc.undefined, reason, icc.msr, icc.msc, icc.mse)


def long_levels(runs: Mapping[str, pd.DataFrame], column: str = "level") -> pd.DataFrame:
    """The long frame (`COLUMNS`) from one frame of levels per rater name, such as {"A": run_a, "B": run_b}.

    Each frame has `transcript_id`, `criterion_id` and `column` (as `evaluate.model_levels` gives);
    a grade without a level stays as a row with a NaN level, so it is counted as unpaired.
    """
    parts = [frame[KEYS].assign(rater=name, level=pd.to_numeric(frame[column], errors="coerce").astype(float))
             for name, frame in runs.items()]
    return pd.concat(parts, ignore_index=True)[COLUMNS] if parts else pd.DataFrame(columns=COLUMNS)


def reliability_table(levels: pd.DataFrame, rubric: Rubric, groups: Mapping[str, str] | None = None, *,
                      pair: tuple[str, str] = PAIR, n_boot: int = 1000, seed: int = 0,
                      interval: IntervalKind = DEFAULT_INTERVAL, step: Step = None) -> pd.DataFrame:
    """One row per scope (each criterion, competency, overall) with every reliability figure.

    `levels` is the long frame (`COLUMNS`), one level per transcript, criterion and rater; `pair`
    names the two raters that kappa and the changed share compare (ICC and alpha take every rater).
    `groups` maps a transcript to its candidate, whom the bootstrap resamples as a whole (a
    transcript not in it is its own candidate). `step` is told each scope's name once it is done.
    Scopes with no item are left out.
    """
    if levels.duplicated([*KEYS, "rater"]).any():
        raise ValueError("the levels must hold one row per transcript, criterion and rater")
    raters = list(dict.fromkeys([*pair, *levels["rater"]]))
    wide = levels.set_index([*KEYS, "rater"])["level"].astype(float).unstack("rater").reindex(columns=raters)
    rows = []
    for name, kind, ids in scopes(rubric):
        part = wide[wide.index.get_level_values("criterion_id").isin(ids)]
        if len(part):
            rows.append(_scope_row(name, kind, part, groups or {}, pair, n_boot, seed, interval))
        if step is not None:
            step(name)
    return pd.DataFrame(rows)


def _scope_row(name: str, kind: str, part: pd.DataFrame, groups: Mapping[str, str], pair: tuple[str, str],
               n_boot: int, seed: int, interval: IntervalKind) -> dict:
    a, b = part[pair[0]], part[pair[1]]
    both = a.notna() & b.notna()
    candidates = [groups.get(t, t) for t in part.index.get_level_values("transcript_id")]
    row: dict = {"scope": name, "kind": kind, "raters": int(part.notna().any().sum()), "items": len(part),
                 "paired": int(both.sum()), "only_a": int((a.notna() & b.isna()).sum()),
                 "only_b": int((a.isna() & b.notna()).sum()), "neither": int((a.isna() & b.isna()).sum()),
                 "complete": int(part.notna().all(axis=1).sum())}
    paired_groups = [g for g, keep in zip(candidates, both, strict=True) if keep]
    found = figures(a[both].to_numpy(), b[both].to_numpy(), paired_groups, n_boot=n_boot, seed=seed,
                    only=("quadratic_kappa_score", "exact_agreement_score"), interval=interval)
    row["changed"] = int((a[both] != b[both]).sum())
    _put(row, "changed_share", _changed_share(a[both].to_numpy(), b[both].to_numpy(), found["exact_agreement_score"],
                                              pair))
    _put(row, "quadratic_kappa_score", found["quadratic_kappa_score"])
    icc = icc_2_1(part.to_numpy())
    row.update({"icc": icc.value, "icc_low": icc.low, "icc_high": icc.high, "icc_undefined": icc.undefined,
                "icc_interval_undefined": icc.interval_undefined})
    _put(row, "krippendorff_alpha", alpha_figure(part.to_numpy(), candidates, n_boot=n_boot, seed=seed,
                                                 interval=interval))
    return row


def _put(row: dict, name: str, figure: Figure) -> None:
    row[name] = math.nan if figure.value is None else figure.value
    row[f"{name}_low"] = math.nan if figure.low is None else figure.low
    row[f"{name}_high"] = math.nan if figure.high is None else figure.high
    row[f"{name}_undefined"], row[f"{name}_fallback"] = figure.undefined, figure.fallback


def _changed_share(a: np.ndarray, b: np.ndarray, exact: Figure, pair: tuple[str, str]) -> Figure:
    """The share of paired items whose level changed: one minus exact agreement, its interval mirrored."""
    if not len(a):
        return Figure(value=None, undefined=f"no item has a level from both {pair[0]} and {pair[1]}")
    share = float(np.mean(a != b))
    if exact.low is None or exact.high is None:
        return Figure(value=share)
    return Figure(value=share, low=1 - exact.high, high=1 - exact.low, fallback=exact.fallback)


def alpha_figure(items: np.ndarray, groups: Sequence[str], *, n_boot: int = 1000, seed: int = 0,
                 interval: IntervalKind = DEFAULT_INTERVAL) -> Figure:
    """Krippendorff's alpha (ordinal) of an items x raters matrix (NaN: no level) with a bootstrap interval.

    Only items with levels from two or more raters count (Krippendorff's pairable values); fewer
    than `MIN_ITEMS` of them leave alpha undefined, as does one level everywhere (0/0). The interval
    resamples candidates (`groups`, one per item) with `figures.confidence_interval`.
    """
    matrix = np.asarray(items, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        return Figure(value=None, undefined="needs two or more raters")
    keep = (~np.isnan(matrix)).sum(axis=1) >= 2
    pairable = matrix[keep]
    if len(pairable) < MIN_ITEMS:
        return Figure(value=None, undefined=f"only {len(pairable)} item(s) with a level from two or more raters; "
                                            f"at least {MIN_ITEMS} are needed")
    point = krippendorff_alpha(pairable.T)
    if point.value is None or n_boot <= 0:
        return point
    kept_groups = [g for g, k in zip(groups, keep, strict=True) if k]

    def alpha_of(rows: np.ndarray | slice) -> float:
        value = krippendorff_alpha(pairable[rows].T).value
        return math.nan if value is None else value

    bounds = confidence_interval(alpha_of, Resamples.of(kept_groups, n_boot, seed), interval)
    return Figure(value=point.value, low=bounds.low, high=bounds.high, fallback=bounds.fallback)
