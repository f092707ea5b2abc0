import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from grader.agreement.figures import (
    LEVELS,
    METRICS,
    SPLIT_RATERS,
    Figure,
    Resamples,
    bootstrap_indices,
    confidence_interval,
    confusion,
    figures,
    krippendorff_alpha,
    paired_differences,
)
from grader.agreement.report import cell

levels = st.lists(st.sampled_from(LEVELS), min_size=4, max_size=40)


def test_hand_worked_kappa_and_friends():
    # 4 items: agree on 2; each rater says 1 and 2 half the time: p_o = 0.5, p_e = 0.5, kappa = 0
    f = figures([1, 1, 2, 2], [1, 2, 1, 2], n_boot=50)
    assert f["cohen_kappa_score"].value == pytest.approx(0.0)
    assert f["exact_agreement_score"].value == 0.5 and f["adjacent_agreement_score"].value == 1.0
    assert f["mean_absolute_error"].value == 0.5 and f["bias"].value == 0.0
    # the model one level softer everywhere: bias +1, MAE 1, perfect rank correlation
    g = figures([2, 3, 4, 5, 5], [1, 2, 3, 4, 5], n_boot=50)
    assert g["bias"].value == pytest.approx(0.8) and g["spearman_score"].value == pytest.approx(
        stats.spearmanr([2, 3, 4, 5, 5], [1, 2, 3, 4, 5])[0])
    assert g["exact_agreement_score"].value == pytest.approx(0.2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")  # the reference call's own
@settings(max_examples=60, deadline=None)
@given(levels, st.randoms())
def test_figures_match_the_libraries(gold, rnd):
    model = [min(5, max(1, x + rnd.choice([-1, 0, 0, 1]))) for x in gold]
    f = figures(model, gold, n_boot=20, interval="percentile")  # values, not intervals, are checked here
    for weights, name in [(None, "cohen_kappa_score"), ("linear", "linear_kappa_score"),
                          ("quadratic", "quadratic_kappa_score")]:
        expected = cohen_kappa_score(model, gold, labels=list(LEVELS), weights=weights)
        if f[name].value is not None:
            assert f[name].value == pytest.approx(expected)
        else:
            assert f[name].undefined
    assert f["mean_absolute_error"].value == pytest.approx(np.mean(np.abs(np.array(model) - gold)))


@settings(max_examples=60, deadline=None)
@given(levels)
def test_a_rater_agrees_perfectly_with_itself(x):
    f = figures(x, x, n_boot=10, interval="percentile")
    assert f["exact_agreement_score"].value == 1.0 and f["mean_absolute_error"].value == 0.0
    if len(set(x)) > 1:
        assert f["cohen_kappa_score"].value == pytest.approx(1.0)
        assert f["quadratic_kappa_score"].value == pytest.approx(1.0)
    else:
        assert f["cohen_kappa_score"].value is None and "chance agreement" in f["cohen_kappa_score"].undefined


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LEVELS), st.sampled_from(LEVELS)), min_size=4, max_size=30))
def test_symmetry_and_label_permutation(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    ab, ba = figures(a, b, n_boot=0), figures(b, a, n_boot=0)  # values only
    for name in ("cohen_kappa_score", "quadratic_kappa_score", "exact_agreement_score", "mean_absolute_error"):
        assert ab[name].value == pytest.approx(ba[name].value) if ab[name].value is not None else ba[name].value is None
    if ab["bias"].value is not None:
        assert ab["bias"].value == pytest.approx(-ba["bias"].value)
    # unweighted kappa does not care what the levels are called; the weighted ones do care about order
    perm = {1: 3, 2: 5, 3: 1, 4: 2, 5: 4}
    pa, pb = [perm[x] for x in a], [perm[x] for x in b]
    permuted = figures(pa, pb, n_boot=0)["cohen_kappa_score"].value
    original = ab["cohen_kappa_score"].value
    assert (permuted is None and original is None) or permuted == pytest.approx(original)


@pytest.mark.parametrize(("model", "gold", "name", "reason"), [
    ([3, 3, 3, 3], [3, 3, 3, 3], "cohen_kappa_score", "chance agreement is total"),
    ([3, 3, 3, 3], [1, 2, 3, 4], "spearman_score", "constant"),
    ([1, 2], [1, 2], "quadratic_kappa_score", "at least 3"),
    ([], [], "mean_absolute_error", "only 0 pair(s)"),  # a model with no verified evidence anywhere
])
def test_degenerate_cases_are_stated_undefined(model, gold, name, reason):
    f = figures(model, gold, n_boot=10)[name]
    assert f.value is None and reason in f.undefined


def test_bootstrap_resamples_whole_groups_and_gives_an_interval():
    groups = ["a", "a", "b", "b", "c", "c", "d", "d"]
    for sample in bootstrap_indices(groups, 50, seed=1):
        picked = [groups[i] for i in sample]
        assert all(picked.count(g) % 2 == 0 for g in set(picked))  # both interviews of a candidate, or none
    f = figures([1, 2, 3, 4, 5, 4, 3, 2], [1, 2, 3, 5, 5, 4, 2, 2], groups, n_boot=200)["quadratic_kappa_score"]
    assert f.low is not None and f.low <= f.value <= f.high


def test_krippendorff_alpha():
    same = np.array([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]])
    assert krippendorff_alpha(same).value == pytest.approx(1.0)
    reversed_ = np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    assert krippendorff_alpha(reversed_).value < 0
    assert krippendorff_alpha(np.array([[1, 2, 3]])).undefined == "needs two or more raters"
    missing = np.array([[1, 2, np.nan, 4], [1, 2, 3, 4]])
    assert krippendorff_alpha(missing).value == pytest.approx(1.0)


def test_krippendorff_alpha_states_why_it_is_undefined():
    # issue 13: raters who split the work (no item rated twice) used to raise a ValueError
    split = krippendorff_alpha(np.array([[2, np.nan], [np.nan, 4]]))
    assert split.value is None and split.undefined == SPLIT_RATERS
    # ... and items rated twice that all agree on one level used to give a bare NaN
    one_level = krippendorff_alpha(np.array([[3, 3, np.nan], [3, np.nan, 5]]))
    assert one_level.value is None and "one and the same level (3)" in one_level.undefined
    # one shared item that differs is enough for a number (singly rated items do not count)
    assert krippendorff_alpha(np.array([[3, 3, np.nan], [3, 2, 5]])).value is not None


def _assert_stated(fig: Figure) -> None:
    for v in (fig.value, fig.low, fig.high):
        assert v is None or np.isfinite(v)
    assert (fig.value is None) == bool(fig.undefined)
    assert (fig.low is None) == (fig.high is None)
    assert fig.low is None or fig.low <= fig.high


pairs = st.lists(st.tuples(st.sampled_from(LEVELS), st.sampled_from(LEVELS), st.sampled_from("abcdef")), max_size=25)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=40, deadline=None)
@given(pairs, st.lists(st.sampled_from(LEVELS), min_size=25, max_size=25), st.sampled_from(["percentile", "bca"]))
def test_no_figure_is_ever_a_bare_nan(items, other, interval):
    model, gold, groups = ([p[k] for p in items] for k in range(3))
    for fig in figures(model, gold, groups, n_boot=10, interval=interval).values():
        _assert_stated(fig)
    for fig in paired_differences(other[:len(model)], model, gold, groups, n_boot=10, interval=interval).values():
        _assert_stated(fig)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 4).flatmap(lambda raters: st.lists(
    st.lists(st.one_of(st.none(), st.sampled_from(LEVELS)), min_size=raters, max_size=raters), min_size=1,
    max_size=8)))
def test_krippendorff_alpha_is_never_a_bare_nan(items):
    ratings = np.array([[np.nan if v is None else v for v in item] for item in items], dtype=float).T
    _assert_stated(krippendorff_alpha(ratings))


def test_a_figure_refuses_nan_and_unexplained_absence():
    with pytest.raises(ValueError, match="never NaN"):
        Figure(value=float("nan"))
    with pytest.raises(ValueError, match="must say why"):
        Figure(value=None)


KAPPA = METRICS["quadratic_kappa_score"]


def test_percentile_interval_is_the_percentiles_of_the_group_resamples():
    model, gold = np.array([1, 2, 3, 4, 5, 4, 3, 2, 2, 5]), np.array([1, 2, 3, 5, 5, 4, 2, 2, 3, 4])
    resamples = Resamples.of([str(i // 2) for i in range(10)], 300, seed=3)
    values = resamples.values(lambda i: KAPPA(model[i], gold[i]))
    bounds = confidence_interval(lambda i: KAPPA(model[i], gold[i]), resamples, "percentile")
    assert (bounds.low, bounds.high) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])))


def test_bca_resamples_and_jackknifes_whole_candidates():
    # each candidate's two interviews are identical: kappa is the same on the doubled data, so resampling
    # and leaving out whole candidates must give exactly the interval of one interview per candidate
    rng = np.random.default_rng(0)
    gold = rng.integers(1, 6, 30)
    model = np.clip(gold + rng.integers(-1, 2, 30), 1, 5)
    single = figures(model, gold, [str(i) for i in range(30)], n_boot=400, interval="bca")["quadratic_kappa_score"]
    doubled = figures(np.repeat(model, 2), np.repeat(gold, 2), [str(i) for i in np.repeat(range(30), 2)],
                      n_boot=400, interval="bca")["quadratic_kappa_score"]
    percentile = figures(model, gold, n_boot=400, interval="percentile")["quadratic_kappa_score"]
    assert single.fallback is None and (doubled.low, doubled.high) == pytest.approx((single.low, single.high))
    assert (single.low, single.high) != pytest.approx((percentile.low, percentile.high))
    assert single.low <= single.value <= single.high


def test_bca_falls_back_to_percentile_and_says_so():
    # the number of distinct items drawn: every resample has fewer than the sample, so BCa's bias
    # correction is infinite; the percentile interval is given instead, and marked in the report
    resamples = Resamples.of([str(i) for i in range(20)], 200, seed=0)

    def distinct(i):
        return float(len(np.unique(np.arange(20)[i])))

    bounds = confidence_interval(distinct, resamples, "bca")
    assert bounds.fallback.startswith("percentile interval: BCa is undefined here")
    assert (bounds.low, bounds.high) == confidence_interval(distinct, resamples, "percentile")[:2]
    row = pd.Series({"x": 20.0, "x_low": bounds.low, "x_high": bounds.high, "x_fallback": bounds.fallback})
    assert cell(row, "x").endswith("(percentile)") and not cell(row.drop("x_fallback"), "x").endswith(")")


def test_confusion_rows_are_gold():
    matrix = confusion([1, 2, 2], [1, 1, 2])
    assert matrix[0][:2] == [1, 1] and matrix[1][:2] == [0, 1] and sum(map(sum, matrix)) == 3
    assert confusion([], []) == [[0] * 5] * 5  # a criterion with no pair yet (a short run) is an empty matrix
