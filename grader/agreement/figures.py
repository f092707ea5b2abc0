"""Agreement between the model's levels and human (gold) levels, and between raters.

Every figure is computed by scikit-learn, scipy or the `krippendorff` package; this module only
chooses, pairs and reports them. Naming follows scikit-learn: `*_score` is higher-is-better,
`*_error` lower-is-better; `bias` is the mean of model minus gold (positive: the model grades
softer). A figure that is not defined for the data (one class only, a constant rater, fewer than
`MIN_ITEMS` pairs, raters who share no item) is reported as undefined with the reason, never as a
misleading number or a bare NaN (`Figure` refuses one).

Intervals come from one bootstrap loop that resamples whole groups (a candidate's interviews stay
together). Two kinds, both computed by `scipy.stats.bootstrap` from that distribution: `percentile`,
and `bca` (bias-corrected and accelerated), whose jackknife leaves out one group at a time. BCa is
the default: in `python -m evals.bootstrap_coverage` the percentile interval of quadratic kappa
fell short of 95% where agreement is high (0.93-0.94) and BCa did not (0.95-0.97; see README).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import krippendorff
import numpy as np
from pydantic import BaseModel, model_validator
from scipy import stats
from sklearn.metrics import cohen_kappa_score, confusion_matrix, mean_absolute_error

LEVELS = (1, 2, 3, 4, 5)
MIN_ITEMS = 3
CONFIDENCE = 0.95
MIN_DEFINED = 0.9  # share of resamples where the figure must be defined for an interval to be given
Metric = Callable[[np.ndarray, np.ndarray], float]
Statistic = Callable[[np.ndarray | slice], float]  # a figure on the items at these indices
IntervalKind = Literal["percentile", "bca"]
INTERVALS: dict[str, str] = {"percentile": "percentile", "bca": "bias-corrected and accelerated (BCa)"}
DEFAULT_INTERVAL: IntervalKind = "bca"
SPLIT_RATERS = "no item was rated by two or more raters: the raters split the work"


class Figure(BaseModel):
    """One agreement figure with its 95% bootstrap interval, or the reason it is undefined.

    `fallback` says why the interval is a percentile one where BCa was asked (BCa undefined here).
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    undefined: str | None = None
    fallback: str | None = None

    @model_validator(mode="after")
    def never_a_bare_nan(self) -> Figure:
        if any(v is not None and math.isnan(v) for v in (self.value, self.low, self.high)):
            raise ValueError("a figure is a number, or None with the reason it is undefined; never NaN")
        if self.value is None and not self.undefined:
            raise ValueError("an undefined figure must say why")
        return self


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


class FigureName(NamedTuple):
    """How a figure is named for a reader: in a sentence or a row (`name`), and as a column header (`short`)."""

    name: str
    short: str


# the one table of figure names: every identifier above, the human ceiling's, and what reports print instead
FIGURE_NAMES: dict[str, FigureName] = {
    "quadratic_kappa_score": FigureName("Cohen's kappa (quadratic)", "κ quadratic"),
    "linear_kappa_score": FigureName("Cohen's kappa (linear)", "κ linear"),
    "cohen_kappa_score": FigureName("Cohen's kappa (unweighted)", "κ"),
    "exact_agreement_score": FigureName("exact agreement", "exact"),
    "adjacent_agreement_score": FigureName("within ±1", "±1"),
    "spearman_score": FigureName("Spearman's ρ", "Spearman"),
    "pearson_score": FigureName("Pearson's r", "Pearson"),
    "mean_absolute_error": FigureName("mean absolute error", "MAE"),
    "bias": FigureName("bias (model − gold)", "bias"),
    "human_quadratic_kappa_mean": FigureName("human–human Cohen's kappa (quadratic; each rater against the "
                                             "others, mean)", "human κ quadratic (each rater against the others, "
                                                              "mean)"),
    "krippendorff_alpha": FigureName("Krippendorff's α (ordinal)", "Krippendorff's α (ordinal)"),
}


def figure_name(identifier: str) -> str:
    """A figure's name for a reader ("Cohen's kappa (quadratic)"); an identifier not in the table as it is."""
    known = FIGURE_NAMES.get(identifier)
    return known.name if known else identifier


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
            only: Sequence[str] | None = None, interval: IntervalKind = DEFAULT_INTERVAL) -> dict[str, Figure]:
    """Every figure for paired levels, with 95% bootstrap intervals resampling groups (candidates).

    `scores`, when given, are the model's continuous scores behind its levels (an expected level, a
    regression output): the correlations use them, so rounding does not hide an ordering.
    `only` names the figures wanted (default: all of METRICS); `interval` is `percentile` or `bca`.
    """
    m, g = np.asarray(model, dtype=float), np.asarray(gold, dtype=float)
    s = np.asarray(scores, dtype=float) if scores is not None else m
    resamples = _resamples(groups, len(g), n_boot, seed)
    out = {}
    for name, fn in METRICS.items():
        if only is not None and name not in only:
            continue
        x = s if name in CORRELATIONS else m
        out[name] = _figure(undefined_reason(name, x, g), lambda i, fn=fn, x=x: fn(x[i], g[i]), resamples, interval)
    return out


@dataclass(frozen=True)
class Resamples:
    """Bootstrap resamples that draw whole groups with replacement (a candidate's interviews stay together)."""

    order: np.ndarray  # the item indices, group after group
    starts: np.ndarray  # where each group begins in `order`
    sizes: np.ndarray  # the number of items of each group
    draws: np.ndarray  # resamples x groups: the groups each resample drew

    @classmethod
    def of(cls, groups: Sequence[str], n_boot: int, seed: int) -> Resamples:
        _, inverse, sizes = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
        draws = np.random.default_rng(seed).integers(len(sizes), size=(n_boot, len(sizes)))
        return cls(np.argsort(inverse, kind="stable"), np.cumsum(sizes) - sizes, sizes, draws)

    def rows(self, drawn: np.ndarray) -> np.ndarray:
        """The item indices of the drawn groups (each group as often as it was drawn)."""
        drawn = np.asarray(drawn, dtype=int)
        sizes = self.sizes[drawn]
        ends = np.cumsum(sizes)
        return self.order[np.arange(ends[-1]) + np.repeat(self.starts[drawn] - ends + sizes, sizes)]

    def values(self, stat: Statistic) -> np.ndarray:
        """The bootstrap distribution of a statistic (NaN where it is undefined in a resample)."""
        return np.array([stat(self.rows(d)) for d in self.draws], dtype=float)


def _resamples(groups: Sequence[str] | None, n: int, n_boot: int, seed: int) -> Resamples | None:
    """Resamples over groups (each item its own group when none are given); none for too few items."""
    labels = list(groups) if groups is not None else [str(i) for i in range(n)]
    return Resamples.of(labels, n_boot, seed) if n >= MIN_ITEMS and n_boot > 0 else None


def _figure(reason: str | None, stat: Statistic, resamples: Resamples | None, kind: IntervalKind) -> Figure:
    """A statistic on all items with its interval over the resamples, or undefined with the reason."""
    value = math.nan if reason else stat(slice(None))
    if reason or math.isnan(value):
        return Figure(value=None, undefined=reason or "not defined for these data")
    if resamples is None:
        return Figure(value=value)
    bounds = confidence_interval(stat, resamples, kind)
    return Figure(value=value, low=bounds.low, high=bounds.high, fallback=bounds.fallback)


def bootstrap_indices(groups: Sequence[str], n_boot: int, seed: int) -> list[np.ndarray]:
    """Index sets of bootstrap samples that resample whole groups (a candidate's interviews stay together)."""
    resamples = Resamples.of(groups, n_boot, seed)
    return [resamples.rows(d) for d in resamples.draws]


class Bounds(NamedTuple):
    """A confidence interval; no bounds when too many resamples leave the figure undefined."""

    low: float | None = None
    high: float | None = None
    fallback: str | None = None


BCA_UNDEFINED = ("percentile interval: BCa is undefined here (the estimate lies outside its bootstrap distribution, "
                 "or leaving out one candidate leaves the figure undefined or unchanged)")


def confidence_interval(stat: Statistic, resamples: Resamples, kind: IntervalKind,
                        values: np.ndarray | None = None) -> Bounds:
    """The 95% interval of `kind` from the bootstrap distribution (`values`, computed when not given).

    Resamples where the figure is undefined are left out when they are fewer than 10%; otherwise
    there is no interval. Where BCa cannot be computed the percentile interval is given, with the
    reason in `fallback`.
    """
    values = resamples.values(stat) if values is None else values
    finite = values[~np.isnan(values)]
    if not len(finite) or len(finite) < MIN_DEFINED * len(values):
        return Bounds()
    if np.ptp(finite) <= 1e-12:  # every resample gives one value: every kind of interval is that point
        return Bounds(float(finite[0]), float(finite[0]))
    if kind == "bca":
        low, high = _scipy_interval(stat, resamples, finite, "BCa")
        if not (math.isnan(low) or math.isnan(high)):
            return Bounds(low, high)
    low, high = _scipy_interval(stat, resamples, finite, "percentile")
    return Bounds(low, high, BCA_UNDEFINED if kind == "bca" else None)


@dataclass(frozen=True)
class _Distribution:
    """A bootstrap distribution in the shape `scipy.stats.bootstrap(bootstrap_result=...)` reads."""

    bootstrap_distribution: np.ndarray


def _scipy_interval(stat: Statistic, resamples: Resamples, values: np.ndarray, method: str) -> tuple[float, float]:
    """scipy's interval from our group resamples: the data are the group numbers, so BCa's jackknife
    leaves out one group (candidate) at a time; `n_resamples=0` reuses `values` as the distribution."""
    groups = np.arange(len(resamples.sizes))
    with warnings.catch_warnings():  # a degenerate BCa is NaN, answered by the percentile fallback
        warnings.simplefilter("ignore")
        result = stats.bootstrap((groups,), lambda drawn: stat(resamples.rows(drawn)), n_resamples=0,
                                 bootstrap_result=_Distribution(values), method=method,
                                 confidence_level=CONFIDENCE, vectorized=False)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def krippendorff_alpha(ratings: np.ndarray) -> Figure:
    """Ordinal Krippendorff's alpha of a raters x items matrix (NaN = not rated).

    Only items rated by two or more raters count (Krippendorff's pairable values); alpha is
    undefined, with the reason, when there are none, when there is only one (its own disagreement is
    then all the disagreement expected by chance, so alpha is 0 whatever the levels), or when they
    all have one level.
    """
    ratings = np.asarray(ratings, dtype=float)
    reason = _alpha_undefined(ratings)
    if reason:
        return Figure(value=None, undefined=reason)
    value = float(krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal",
                                     value_domain=list(LEVELS)))
    return Figure(value=None, undefined="not defined for these data") if math.isnan(value) else Figure(value=value)


def _alpha_undefined(ratings: np.ndarray) -> str | None:
    if ratings.ndim != 2 or ratings.shape[0] < 2:
        return "needs two or more raters"
    rated = ~np.isnan(ratings)
    pairable = ratings[:, rated.sum(axis=0) >= 2]
    if not pairable.size:
        return SPLIT_RATERS
    levels = np.unique(pairable[~np.isnan(pairable)])
    if len(levels) < 2:
        return (f"every item rated by two or more raters got one and the same level ({levels[0]:g}): no "
                "disagreement is expected by chance, so alpha is 0/0")
    if pairable.shape[1] < 2:
        return ("only one item was rated by two or more raters: its own disagreement is all the disagreement "
                "expected by chance, so alpha would be 0 whatever the levels; at least 2 such items are needed")
    return None


def confusion(model: Sequence[int], gold: Sequence[int]) -> list[list[int]]:
    """Rows: gold level 1..5; columns: model level 1..5 (all zeros when there is no pair)."""
    if not len(model):
        return [[0] * len(LEVELS) for _ in LEVELS]
    return confusion_matrix(list(gold), list(model), labels=list(LEVELS)).tolist()


LOWER_IS_BETTER = {"mean_absolute_error"}


def paired_differences(a: Sequence[float], b: Sequence[float], gold: Sequence[float],
                       groups: Sequence[str] | None = None, *, n_boot: int = 1000, seed: int = 0,
                       interval: IntervalKind = DEFAULT_INTERVAL) -> dict[str, Figure]:
    """Each figure of run B minus run A on the same items, with a paired bootstrap interval.

    Both runs are resampled with the same candidates in every resample, so what the interval shows
    is the uncertainty of the difference, not of each run alone. A difference whose interval
    excludes 0 is a real change at the 95% level; one that straddles 0 cannot be told from noise.
    """
    ra, rb, g = (np.asarray(v, dtype=float) for v in (a, b, gold))
    resamples = _resamples(groups, len(g), n_boot, seed)
    return {name: _figure(undefined_reason(name, ra, g) or undefined_reason(name, rb, g),
                          lambda i, fn=fn: fn(rb[i], g[i]) - fn(ra[i], g[i]), resamples, interval)
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
