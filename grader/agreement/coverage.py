"""The coverage curve (issue 20, item 4): how agreement with gold rises as the most uncertain grades go to people.

Each grade the model gave a level (and the gold has) gets its uncertainty (`grader.grading.uncertainty`). For
x = 0%, 10%, ... 50%, the x% most uncertain are "sent to people": their level is replaced by the gold level,
as a reviewer would set it, and agreement with the gold is measured again (Cohen's kappa, quadratic, and
exact agreement). The baseline sends a random x% instead, averaged over `seeds` draws (with the standard
deviation across draws). If uncertainty ranks the errors, its curve rises faster than the baseline, and the
share of the model's errors that are among the grades sent (`errors_caught`) is above x (at random it is x).

Grades tied in uncertainty are ordered as `grader.grading.uncertainty.rank_key` orders them (score, mean of
the signals, number of signals), and what is still tied is broken at random, averaged over the same seeds:
so a curve never depends on how transcripts are named, and a run with no uncertainty signal (one sample of
one judge, no level probabilities) gets the baseline's curve, as it should. Gold items the model gave no
level (unscored, insufficient evidence, no verified evidence, not graded) are left out and counted: they
go to a person anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from grader.agreement.evaluate import KEYS, consensus
from grader.agreement.figures import METRICS
from grader.agreement.gold import GoldLabels
from grader.grading.uncertainty import SIGNALS, uncertainty
from grader.runs.store import RunStore

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
SEEDS = 20
FIGURES = ("quadratic_kappa_score", "exact_agreement_score")
COLUMNS = ["fraction", "sent", *(f"{how}_{m}" for m in FIGURES for how in ("uncertain", "random", "random_sd")),
           "uncertain_errors_caught", "random_errors_caught"]


@dataclass(frozen=True)
class CoverageCurve:
    """The curve (`table`, one row per fraction sent) and what a reader needs to read it."""

    table: pd.DataFrame
    paired: int  # grades with a level and a gold level: the ones ranked
    not_paired: int  # gold items the model gave no level
    errors: int  # paired grades whose level is not the gold
    seeds: int
    signals: dict[str, int] = field(default_factory=dict)  # paired grades with each signal
    with_signal: int = 0  # paired grades with any signal

    def gains(self) -> dict[str, float]:
        """The mean over the fractions above 0 of (uncertain first − random), per figure (NaN when undefined)."""
        rows = self.table[self.table["fraction"] > 0]
        return {m: float(np.nanmean(rows[f"uncertain_{m}"] - rows[f"random_{m}"])) if len(rows) and
                (rows[f"uncertain_{m}"] - rows[f"random_{m}"]).notna().any() else float("nan") for m in FIGURES}


def grade_uncertainties(store: RunStore) -> pd.DataFrame:
    """One row per graded call: its uncertainty score, the mean and number of its signals, and which signals."""
    rows = []
    for row, grade in store.grades():
        u = uncertainty(grade)
        rows.append({"transcript_id": row["transcript_id"], "criterion_id": row["criterion_id"],
                     "uncertainty": u.score, "uncertainty_mean": u.mean, "signals": len(u.signals),
                     **{f"has_{name}": name in u.signals for name in SIGNALS}})
    return pd.DataFrame(rows, columns=[*KEYS, "uncertainty", "uncertainty_mean", "signals",
                                       *(f"has_{name}" for name in SIGNALS)])


def coverage_table(level: Sequence[float], gold: Sequence[float], score: Sequence[float],
                   mean: Sequence[float] | None = None, n_signals: Sequence[int] | None = None, *,
                   fractions: Sequence[float] = FRACTIONS, seeds: int = SEEDS, seed: int = 0) -> pd.DataFrame:
    """The curve on paired levels: per fraction, agreement with the gold when that share of the grades is replaced
    by the gold level, the most uncertain first (ties broken at random) and at random (mean and sd over `seeds`)."""
    level, gold = np.asarray(level, dtype=float), np.asarray(gold, dtype=float)
    n = len(level)
    keys = [-np.round(np.asarray(score, dtype=float), 9),
            -np.round(np.asarray(mean if mean is not None else np.zeros(n), dtype=float), 9),
            -np.asarray(n_signals if n_signals is not None else np.zeros(n), dtype=float)]
    wrong = level != gold
    rows = []
    for fraction in fractions:
        sent = round(fraction * n)
        uncertain, random = [], []
        for draw in range(seeds):
            rng = np.random.default_rng([seed, draw])
            ties = rng.random(n)
            order = np.lexsort((ties, *reversed(keys)))  # the last key sorts first
            uncertain.append(_sent(level, gold, wrong, order[:sent]))
            random.append(_sent(level, gold, wrong, rng.permutation(n)[:sent]))
        row: dict[str, float] = {"fraction": fraction, "sent": sent}
        for i, metric in enumerate(FIGURES):
            ours = np.array([u[i] for u in uncertain])
            theirs = np.array([r[i] for r in random])
            row[f"uncertain_{metric}"] = _mean(ours)
            row[f"random_{metric}"] = _mean(theirs)
            row[f"random_sd_{metric}"] = float(np.nanstd(theirs)) if np.isfinite(theirs).any() else float("nan")
        row["uncertain_errors_caught"] = _mean(np.array([u[2] for u in uncertain]))
        row["random_errors_caught"] = _mean(np.array([r[2] for r in random]))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _sent(level: np.ndarray, gold: np.ndarray, wrong: np.ndarray, chosen: np.ndarray) -> tuple[float, float, float]:
    """(quadratic kappa, exact agreement, share of the errors among the chosen) with the chosen set to the gold."""
    replaced = level.copy()
    replaced[chosen] = gold[chosen]
    figures = tuple(METRICS[m](replaced, gold) if len(gold) else float("nan") for m in FIGURES)
    errors = int(wrong.sum())
    caught = float(wrong[chosen].sum() / errors) if errors else float("nan")
    return figures[0], figures[1], caught


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def coverage_curve(store: RunStore, model: pd.DataFrame, gold: GoldLabels, *, fractions: Sequence[float] = FRACTIONS,
                   seeds: int = SEEDS) -> CoverageCurve:
    """The run's coverage curve against the consensus gold: `model` is `evaluate.model_levels(store)`."""
    truth = consensus(gold)[[*KEYS, "gold"]]
    joined = truth.merge(model[[*KEYS, "level"]], on=KEYS, how="left").merge(grade_uncertainties(store), on=KEYS,
                                                                            how="left")
    joined = joined[joined["gold"].notna()]
    paired = joined[joined["level"].notna()].sort_values(KEYS).reset_index(drop=True)
    table = coverage_table(paired["level"], paired["gold"], paired["uncertainty"].fillna(0.0),
                           paired["uncertainty_mean"].fillna(0.0), paired["signals"].fillna(0), fractions=fractions,
                           seeds=seeds)
    signals = {name: int(paired[f"has_{name}"].fillna(False).astype(bool).sum()) for name in SIGNALS}
    return CoverageCurve(table=table, paired=len(paired), not_paired=len(joined) - len(paired),
                         errors=int((paired["level"] != paired["gold"]).sum()), seeds=seeds,
                         signals={k: v for k, v in signals.items() if v},
                         with_signal=int((paired["signals"].fillna(0) > 0).sum()))
