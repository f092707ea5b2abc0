"""Coverage of the 95% bootstrap intervals of quadratic kappa: percentile against BCa.

Each design draws gold and model levels 1..5 from a known population, many times. Each time, the
interval `grader eval` reports is computed as it computes it (`grader.agreement.figures`: 1000
resamples of candidates, `confidence_interval` of each kind from the same resamples, BCa's
jackknife leaving out one candidate at a time) and checked against the population's quadratic
kappa. A 95% interval should cover it 95% of the time.

    python -m evals.bootstrap_coverage                 # 1000 samples per design: 4 min of CPU, ~7 min on 2 busy cores
    python -m evals.bootstrap_coverage --reps 5000     # tighter coverage estimates
    python -m evals.bootstrap_coverage --designs clustered-0.94 --reps 200

Population: a latent ability per interview, shared in part by a candidate's interviews in the
clustered designs (48 candidates x 2 interviews, as in the MIT data; 96 single interviews in the
iid ones; 30 interviews in the small ones, one criterion of a small calibration run). Gold and
model each read the ability with their own noise and cut it into five levels at the same
thresholds. The population kappa is scikit-learn's on two million draws. A coverage estimate from
R samples has a Monte Carlo standard error of about sqrt(0.95 x 0.05 / R) (0.007 for 1000); both
kinds of interval come from the same resamples of the same samples, so their difference is known
better than either alone.

Speed: scikit-learn's kappa costs milliseconds a call, mostly input checks, which would make
1000 resamples x 1000 samples x 4 designs take hours. The resamples' kappas are computed here from
their confusion matrices in one vectorised step, checked against scikit-learn on every tenth sample.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from grader.agreement.figures import LEVELS, METRICS, Resamples, confidence_interval

SKLEARN_KAPPA = METRICS["quadratic_kappa_score"]
CUTS = np.array([-1.2, -0.4, 0.4, 1.2])  # the five levels of the latent scale
KINDS = ("percentile", "bca")
POPULATION = 2_000_000
K = len(LEVELS)
WEIGHTS = (np.subtract.outer(np.arange(K), np.arange(K)) ** 2).astype(float)  # quadratic disagreement weights


@dataclass(frozen=True)
class Design:
    """A population of (model, gold) levels and the shape of one sample from it."""

    name: str
    noise: float  # the sd of each rater's reading of the latent ability (the ability has sd 1)
    candidates: int
    per_candidate: int = 1
    shared: float = 0.0  # the share of the ability's variance common to a candidate's interviews

    def draw(self, rng: np.random.Generator, candidates: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Model levels, gold levels and candidate labels for `candidates` candidates."""
        k = candidates or self.candidates
        candidate = np.repeat(np.arange(k), self.per_candidate)
        ability = (math.sqrt(self.shared) * rng.standard_normal(k)[candidate]
                   + math.sqrt(1 - self.shared) * rng.standard_normal(len(candidate)))
        model, gold = (1 + np.searchsorted(CUTS, ability + self.noise * rng.standard_normal(len(candidate)))
                       for _ in range(2))
        return model, gold, [str(c) for c in candidate]

    def true_kappa(self) -> float:
        model, gold, _ = self.draw(np.random.default_rng(12345), POPULATION // self.per_candidate)
        return SKLEARN_KAPPA(model, gold)


DESIGNS = (
    Design("iid-0.70", noise=0.58, candidates=96),
    Design("iid-0.94", noise=0.13, candidates=96),
    Design("clustered-0.70", noise=0.58, candidates=48, per_candidate=2, shared=0.6),
    Design("clustered-0.94", noise=0.13, candidates=48, per_candidate=2, shared=0.6),
    Design("small-iid-0.94", noise=0.13, candidates=30),
    Design("small-clustered-0.94", noise=0.13, candidates=15, per_candidate=2, shared=0.6),
)


def quadratic_kappas(model: np.ndarray, gold: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Quadratic kappa of the items in each row of `rows` (resamples x items), from the confusion matrices."""
    codes = (gold[rows] - 1) * K + (model[rows] - 1) + K * K * np.arange(len(rows))[:, None]
    observed = np.bincount(codes.ravel(), minlength=K * K * len(rows)).reshape(len(rows), K, K).astype(float)
    expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :] / rows.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - (observed * WEIGHTS).sum(axis=(1, 2)) / (expected * WEIGHTS).sum(axis=(1, 2))


@dataclass(frozen=True)
class Repetition:
    """One sample's kappa and its interval of each kind ((None, None): no interval)."""

    estimate: float
    bounds: dict[str, tuple[float | None, float | None]]


def one_repetition(design: Design, rep: int, n_boot: int) -> Repetition:
    """Both kinds of interval for one sample, from the same resamples."""
    model, gold, groups = design.draw(np.random.default_rng([zlib.crc32(design.name.encode()), rep]))
    resamples = Resamples.of(groups, n_boot, seed=rep)
    items = np.arange(len(model))

    def kappa(i: np.ndarray | slice) -> float:
        return float(quadratic_kappas(model, gold, items[i][None, :])[0])

    estimate = kappa(slice(None))
    if rep % 10 == 0 and not math.isclose(estimate, SKLEARN_KAPPA(model, gold), abs_tol=1e-9):  # every 10th: checked
        raise AssertionError(f"vectorised kappa {estimate} is not scikit-learn's {SKLEARN_KAPPA(model, gold)}")
    values = quadratic_kappas(model, gold, np.stack([resamples.rows(d) for d in resamples.draws]))
    bounds = {kind: confidence_interval(kappa, resamples, kind, values) for kind in KINDS}
    return Repetition(estimate, {kind: (b.low, b.high) for kind, b in bounds.items()})


def run_design(design: Design, reps: int, n_boot: int, workers: int) -> list[Repetition]:
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(one_repetition, [design] * reps, range(reps), [n_boot] * reps, chunksize=16))


def hits(truth: float, bounds: list[tuple[float | None, float | None]]) -> np.ndarray:
    """Whether each sample's interval covered the truth (no interval: not covered)."""
    return np.array([lo is not None and hi is not None and lo <= truth <= hi for lo, hi in bounds])


@dataclass(frozen=True)
class Coverage:
    """How one kind of interval did over the samples of a design."""

    covered: float
    below: float  # the true kappa fell below the interval
    above: float
    width: float
    missing: int  # samples with no interval

    @classmethod
    def of(cls, truth: float, bounds: list[tuple[float | None, float | None]]) -> Coverage:
        given = np.array([b for b in bounds if b[0] is not None and b[1] is not None], dtype=float).reshape(-1, 2)
        low, high = given[:, 0], given[:, 1]
        return cls(covered=float(np.mean(hits(truth, bounds))), below=float(np.mean(truth < low)),
                   above=float(np.mean(truth > high)), width=float(np.mean(high - low)),
                   missing=len(bounds) - len(given))


def summary(design: Design, truth: float, results: list[Repetition]) -> list[str]:
    mean = np.mean([r.estimate for r in results])
    covered = {kind: hits(truth, [r.bounds[kind] for r in results]) for kind in KINDS}
    lines = []
    for kind in KINDS:
        c = Coverage.of(truth, [r.bounds[kind] for r in results])
        alone = int(np.sum(covered[kind] & ~np.logical_or.reduce([covered[k] for k in KINDS if k != kind])))
        se = math.sqrt(c.covered * (1 - c.covered) / len(results))
        lines.append(f"| {design.name} | {len(results)} | {truth:.3f} | {mean:.3f} | {kind} | {c.covered:.3f} ± "
                     f"{se:.3f} | {alone} | {c.below:.3f} | {c.above:.3f} | {c.width:.3f} | {c.missing} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=1000, help="samples per design (default 1000)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples per sample (default 1000, "
                                                                 "as grader eval)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument("--designs", nargs="*", default=[d.name for d in DESIGNS],
                        help="designs to run: " + ", ".join(d.name for d in DESIGNS))
    opts = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"95% intervals of quadratic kappa: {opts.reps} samples per design, {opts.n_boot} resamples of candidates "
          "each. Coverage ± its Monte Carlo standard error; alone: samples this kind covered and the other missed; "
          "κ below / above: the share of samples whose interval lay wholly above / below the true kappa.\n")
    print("| design | samples | true κ | mean κ̂ | interval | coverage | alone | κ below | κ above | mean width "
          "| no interval |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for design in (d for d in DESIGNS if d.name in opts.designs):
        results = run_design(design, opts.reps, opts.n_boot, opts.workers)
        print("\n".join(summary(design, design.true_kappa(), results)), flush=True)
    print(f"\nrun time {(time.perf_counter() - started) / 60:.1f} min with {opts.workers} worker(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
