"""Agreement between the model's levels and human (gold) levels, and between raters.

Every figure is computed by scikit-learn, scipy or the `krippendorff` package; this module only
chooses, pairs and reports them. Naming follows scikit-learn: `*_score` is higher-is-better,
`*_error` lower-is-better; `bias` is the mean of model minus gold (positive: the model grades
softer). A figure that is not defined for the data (one class only, a constant rater, fewer than
`MIN_ITEMS` pairs) is reported as undefined with the reason, never as a misleading number.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import krippendorff
import numpy as np
from pydantic import BaseModel
from scipy import stats
from sklearn.metrics import cohen_kappa_score, confusion_matrix, mean_absolute_error

LEVELS = (1, 2, 3, 4, 5)
MIN_ITEMS = 3
Metric = Callable[[np.ndarray, np.ndarray], float]


class Figure(BaseModel):
    """One agreement figure with its 95% bootstrap interval, or the reason it is undefined."""

    value: float | None
    low: float | None = None
    high: float | None = None
    undefined: str | None = None


def _kappa(weights: str | None) -> Metric:
    def kappa(model: np.ndarray, gold: np.ndarray) -> float:
        with warnings.catch_warnings():  # undefined cases are reported as such by `undefined_reason`
            warnings.simplefilter("ignore")
            return float(cohen_kappa_score(model, gold, labels=list(LEVELS), weights=weights))

    return kappa


def _correlation(fn: Callable[..., object]) -> Metric:
    def correlation(model: np.ndarray, gold: np.ndarray) -> float:
        if np.all(model == model[0]) or np.all(gold == gold[0]):
            return math.nan  # undefined for a constant rater
        return float(fn(model, gold)[0])  # type: ignore[index]

    return correlation


METRICS: dict[str, Metric] = {
    "cohen_kappa_score": _kappa(None),
    "linear_kappa_score": _kappa("linear"),
    "quadratic_kappa_score": _kappa("quadratic"),
    "exact_agreement_score": lambda m, g: float(np.mean(m == g)),
    "adjacent_agreement_score": lambda m, g: float(np.mean(np.abs(m - g) <= 1)),
    "spearman_score": _correlation(stats.spearmanr),
    "pearson_score": _correlation(stats.pearsonr),
    "mean_absolute_error": lambda m, g: float(mean_absolute_error(g, m)),
    "bias": lambda m, g: float(np.mean(m - g)),
}


def undefined_reason(name: str, model: np.ndarray, gold: np.ndarray) -> str | None:
    if len(model) < MIN_ITEMS:
        return f"only {len(model)} pair(s); at least {MIN_ITEMS} are needed"
    constant = np.all(model == model[0]) or np.all(gold == gold[0])
    if name.endswith("kappa_score") and constant and np.all(model == gold):
        return "both raters give one and the same level: chance agreement is total"
    if name in ("spearman_score", "pearson_score") and constant:
        return "a rater is constant: correlation is undefined"
    return None


CORRELATIONS = ("spearman_score", "pearson_score")


def figures(model: Sequence[float], gold: Sequence[float], groups: Sequence[str] | None = None, *,
            n_boot: int = 1000, seed: int = 0, scores: Sequence[float] | None = None,
            only: Sequence[str] | None = None) -> dict[str, Figure]:
    """Every figure for paired levels, with 95% bootstrap intervals resampling groups (candidates).

    `scores`, when given, are the model's continuous scores behind its levels (an expected level, a
    regression output): the correlations use them, so rounding does not hide an ordering.
    `only` names the figures wanted (default: all of METRICS).
    """
    m, g = np.asarray(model, dtype=float), np.asarray(gold, dtype=float)
    s = np.asarray(scores, dtype=float) if scores is not None else m
    samples = _samples(groups, len(g), n_boot, seed)
    out = {}
    for name, fn in METRICS.items():
        if only is not None and name not in only:
            continue
        x = s if name in CORRELATIONS else m
        out[name] = _figure(undefined_reason(name, x, g), lambda i, fn=fn, x=x: fn(x[i], g[i]), samples)
    return out


def _samples(groups: Sequence[str] | None, n: int, n_boot: int, seed: int) -> list[np.ndarray]:
    """Bootstrap index sets over groups (each item its own group when none are given); none for too few items."""
    labels = list(groups) if groups is not None else [str(i) for i in range(n)]
    return bootstrap_indices(labels, n_boot, seed) if n >= MIN_ITEMS else []


def _figure(reason: str | None, stat: Callable[[np.ndarray | slice], float], samples: list[np.ndarray]) -> Figure:
    """A statistic on all items with its interval over the samples, or undefined with the reason."""
    value = math.nan if reason else stat(slice(None))
    if reason or math.isnan(value):
        return Figure(value=None, undefined=reason or "not defined for these data")
    low, high = interval([stat(i) for i in samples])
    return Figure(value=value, low=low, high=high)


def bootstrap_indices(groups: Sequence[str], n_boot: int, seed: int) -> list[np.ndarray]:
    """Index sets of bootstrap samples that resample whole groups (a candidate's interviews stay together)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(groups)
    unique = np.unique(labels)
    members = {u: np.flatnonzero(labels == u) for u in unique}
    return [np.concatenate([members[u] for u in rng.choice(unique, size=len(unique), replace=True)])
            for _ in range(n_boot)]


def interval(values: Sequence[float]) -> tuple[float | None, float | None]:
    finite = np.asarray([v for v in values if not math.isnan(v)])
    if len(finite) < 0.9 * len(values) or not len(finite):
        return None, None  # too many resamples where the figure is undefined to trust an interval
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def krippendorff_alpha(ratings: np.ndarray) -> Figure:
    """Ordinal Krippendorff's alpha of a raters x items matrix (NaN = not rated)."""
    ratings = np.asarray(ratings, dtype=float)
    if ratings.shape[0] < 2:
        return Figure(value=None, undefined="needs two or more raters")
    values = ratings[~np.isnan(ratings)]
    if len(np.unique(values)) < 2:
        return Figure(value=None, undefined="all ratings are the same level")
    return Figure(value=float(krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal",
                                                 value_domain=list(LEVELS))))


def confusion(model: Sequence[int], gold: Sequence[int]) -> list[list[int]]:
    """Rows: gold level 1..5; columns: model level 1..5 (all zeros when there is no pair)."""
    if not len(model):
        return [[0] * len(LEVELS) for _ in LEVELS]
    return confusion_matrix(list(gold), list(model), labels=list(LEVELS)).tolist()


LOWER_IS_BETTER = {"mean_absolute_error"}


def paired_differences(a: Sequence[float], b: Sequence[float], gold: Sequence[float],
                       groups: Sequence[str] | None = None, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Figure]:
    """Each figure of run B minus run A on the same items, with a paired bootstrap interval.

    Both runs are resampled with the same candidates in every resample, so what the interval shows
    is the uncertainty of the difference, not of each run alone. A difference whose interval
    excludes 0 is a real change at the 95% level; one that straddles 0 cannot be told from noise.
    """
    ra, rb, g = (np.asarray(v, dtype=float) for v in (a, b, gold))
    samples = _samples(groups, len(g), n_boot, seed)
    return {name: _figure(undefined_reason(name, ra, g) or undefined_reason(name, rb, g),
                          lambda i, fn=fn: fn(rb[i], g[i]) - fn(ra[i], g[i]), samples)
            for name, fn in METRICS.items()}


def verdict(name: str, difference: Figure) -> str:
    """Plain words for a difference of run B against run A."""
    if difference.value is None or difference.low is None or difference.high is None:
        return "undefined"
    if difference.low <= 0 <= difference.high:
        return "no clear difference"
    if name == "bias":
        return "B grades softer" if difference.low > 0 else "B grades harder"
    better = difference.high < 0 if name in LOWER_IS_BETTER else difference.low > 0
    return "B better" if better else "B worse"
