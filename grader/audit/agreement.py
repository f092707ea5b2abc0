"""Agreement with humans per group: does the grader agree with people equally well across groups?

Pairs are (transcript, criterion, the model's counted level, the human level). Human levels come
from gold labels (the raters' consensus, as `grader eval` uses) or, once reviewed, from a run's
reviews: `human_pairs` takes any table of human levels, so both plug in the same way. A model grade
with no level is counted as unpaired, never paired. The figures are `grader.agreement.figures`'s,
with bootstrap intervals that resample transcripts.
"""

from __future__ import annotations

import pandas as pd

from grader.agreement.figures import figures
from grader.agreement.gold import GoldLabels

SHOWN = ("quadratic_kappa_score", "exact_agreement_score", "mean_absolute_error", "bias")
KEYS = ["transcript_id", "criterion_id"]


def human_pairs(model: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """`model` (transcript_id, criterion_id, level) beside `human` (same keys, level): model, human per item."""
    joined = human[[*KEYS, "level"]].rename(columns={"level": "human"}).merge(
        model[[*KEYS, "level"]].rename(columns={"level": "model"}), on=KEYS, how="left")
    return joined[[*KEYS, "model", "human"]]


def gold_pairs(model: pd.DataFrame, gold: GoldLabels) -> pd.DataFrame:
    """The model's levels beside the gold consensus (median of the raters, rounded half up)."""
    from grader.agreement.evaluate import consensus

    return human_pairs(model, consensus(gold).rename(columns={"gold": "level"}))


def agreement_by_group(pairs: pd.DataFrame, groups: dict[str, pd.Series], *, n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """One row per attribute and group: candidates, pairs, unpaired, and each figure with its interval."""
    rows = []
    for attribute, group in groups.items():
        known = pairs[pairs["transcript_id"].isin(group.index)]
        labels = known["transcript_id"].map(group)
        for name in sorted(set(labels)):
            part = known[labels == name]
            rows.append({"attribute": attribute, "group": name, **_figures(part, n_boot, seed)})
    return pd.DataFrame(rows)


def _figures(part: pd.DataFrame, n_boot: int, seed: int) -> dict[str, object]:
    paired = part[part["model"].notna() & part["human"].notna()]
    out: dict[str, object] = {"candidates": part["transcript_id"].nunique(), "pairs": len(paired),
                              "unpaired": len(part) - len(paired)}
    found = figures(paired["model"].to_numpy(float), paired["human"].to_numpy(float),
                    paired["transcript_id"].to_list(), n_boot=n_boot, seed=seed, only=SHOWN)
    for name in SHOWN:
        figure = found[name]
        out |= {name: figure.value, f"{name}_low": figure.low, f"{name}_high": figure.high,
                f"{name}_undefined": figure.undefined or ""}
    return out
