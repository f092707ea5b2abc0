"""Audit speed: the impact table of many demographic columns, before (fairlearn per category) and after.

Synthetic run-like frames: N transcripts with an overall and per-competency decision and score, and
K demographic columns of 2 to 6 groups each (some blanks), paired into K + K(K-1)/2 categories as
`grader audit` does. `impact_table` is called directly. "Before" is the code this replaced, kept
here verbatim as `fairlearn_impact_table` (one fairlearn `MetricFrame` per category, outcome and rate
kind); `tests/test_audit_speed.py` checks the two give the same table. Other jobs on the machine
slow both; the load average is printed before and after.

    python -m evals.bench_audit                      # 2,000 transcripts x 40 columns (several minutes: before is slow)
    python -m evals.bench_audit --columns 10 --transcripts 500   # a quick look
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, selection_rate
from scipy.stats import fisher_exact

from grader.audit.demographics import NOT_GIVEN, Demographics, attribute_groups
from grader.audit.impact import (
    EXTRA_COLUMNS,
    FOUR_FIFTHS,
    IMPACT_COLUMNS,
    MIN_GROUP,
    MIN_SHARE,
    AuditOptions,
    above_median,
    decision_selected,
    impact_table,
)


def synthetic(transcripts: int, columns: int, competencies: int = 1, seed: int = 0
              ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Outcome rows (transcript_id, outcome, name, decision, score) and the attribute groups of a fake audit."""
    rng = np.random.default_rng(seed)
    ids = [f"cand-{i:05d}" for i in range(transcripts)]
    rows = []
    for outcome in ["overall", *[f"comp{c}" for c in range(1, competencies + 1)]]:
        decisions = rng.choice(["pass", "fail", "undetermined"], transcripts, p=[0.45, 0.45, 0.10])
        scores = np.round(rng.uniform(1, 5, transcripts), 2)
        scores[rng.random(transcripts) < 0.05] = np.nan
        rows.append(pd.DataFrame({"transcript_id": ids, "outcome": outcome, "name": outcome.title(),
                                  "decision": decisions, "score": scores}))
    people = pd.DataFrame(index=pd.Index(ids, name="transcript_id"))
    for c in range(columns):
        sizes = 2 + c % 5  # 2 to 6 groups
        weights = rng.dirichlet(np.ones(sizes) * 2)
        values = rng.choice([f"g{c}-{k}" for k in range(sizes)], transcripts, p=weights).astype(object)
        values[rng.random(transcripts) < 0.02] = NOT_GIVEN
        people[f"attr{c:02d}"] = values
    groups = attribute_groups(Demographics(frame=people, attributes=list(people.columns)))
    return pd.concat(rows, ignore_index=True), groups


# The code before: fairlearn's MetricFrame per category (grader/audit/impact.py until this change), verbatim.

def _old_group_rates(selected: pd.Series, groups: pd.Series) -> pd.DataFrame:
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


def _old_reference(frame: pd.DataFrame) -> str | None:
    candidates = frame[(frame.index != NOT_GIVEN) & (frame["n"] > 0)]
    pool = candidates[~candidates["too_small"]]
    if not len(pool):
        return None
    ranked = pool.assign(_name=pool.index).sort_values(["selection_rate", "n", "_name"], ascending=[False, False, True])
    return str(ranked.index[0])


def _old_ratio_interval(selected: int, n: int, ref_selected: int, ref_n: int, options: AuditOptions
                        ) -> tuple[float | None, float | None]:
    if not n or not ref_n:
        return None, None
    rng = np.random.default_rng(options.seed)
    ours = rng.binomial(n, selected / n, options.n_boot) / n
    theirs = rng.binomial(ref_n, ref_selected / ref_n, options.n_boot) / ref_n
    ratios = np.divide(ours, theirs, out=np.full(options.n_boot, np.nan), where=theirs > 0)
    finite = ratios[~np.isnan(ratios)]
    if len(finite) < 0.9 * options.n_boot:
        return None, None
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def _old_compare(row: pd.Series, ref: pd.Series, options: AuditOptions) -> dict[str, object]:
    ratio = row["selection_rate"] / ref["selection_rate"] if ref["selection_rate"] > 0 else math.nan
    table = [[row["selected"], row["n"] - row["selected"]], [ref["selected"], ref["n"] - ref["selected"]]]
    degenerate = not (0 < row["selection_rate"] < 1 and 0 < ref["selection_rate"] < 1)
    low, high = (None, None) if row["too_small"] or degenerate else _old_ratio_interval(
        int(row["selected"]), int(row["n"]), int(ref["selected"]), int(ref["n"]), options)
    note = ("reference rate is 0: no ratio" if math.isnan(ratio) else
            "no interval at a rate of 0% or 100%" if degenerate and not row["too_small"] else "")
    flag = bool(ratio < FOUR_FIFTHS) and not row["too_small"]
    return {"impact_ratio": ratio, "four_fifths_flag": flag,
            "p_value": float(fisher_exact(table).pvalue), "ratio_low": low, "ratio_high": high, "note": note}


def fairlearn_impact_rows(selected: pd.Series, groups: pd.Series, options: AuditOptions | None = None
                          ) -> pd.DataFrame:
    options = options or AuditOptions()
    frame = _old_group_rates(selected, groups)
    total = int(frame["n"].sum())
    frame["share"] = frame["n"] / total if total else math.nan
    frame["too_small"] = (frame["n"] < MIN_GROUP) | (frame["n"] < MIN_SHARE * total)
    reference = _old_reference(frame)
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
            out.update(_old_compare(row, frame.loc[reference], options))
        else:
            out["note"] = "no group large enough to be the reference: not compared"
        rows.append(out)
    return pd.DataFrame(rows)


def fairlearn_impact_table(outcomes: pd.DataFrame, groups: dict[str, pd.Series], options: AuditOptions | None = None
                           ) -> pd.DataFrame:
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
                rows = fairlearn_impact_rows(selected.loc[ids], group.loc[ids], options)
                tables.append(rows.assign(attribute=attribute, outcome=outcome, outcome_name=name, rate_kind=kind))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=IMPACT_COLUMNS + EXTRA_COLUMNS)
    return table[IMPACT_COLUMNS + EXTRA_COLUMNS]


def same_figures(new: pd.DataFrame, old: pd.DataFrame) -> list[str]:
    """Where the two tables differ (empty: the same rows, groups, counts, rates, ratios, flags, p values, intervals)."""
    if list(new.columns) != list(old.columns) or len(new) != len(old):
        return [f"shape {new.shape} != {old.shape} or columns differ"]
    problems = []
    for column in new.columns:
        a, b = new[column].to_numpy(dtype=object), old[column].to_numpy(dtype=object)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if not (pd.isna(x) and pd.isna(y)) and x != y:
                problems.append(f"row {i} {column}: {x!r} != {y!r}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=2000)
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--competencies", type=int, default=1)
    parser.add_argument("--skip-before", action="store_true", help="time only the new code")
    args = parser.parse_args()
    outcomes, groups = synthetic(args.transcripts, args.columns, args.competencies)
    passes = (1 + args.competencies) * 2
    print(f"{args.transcripts:,} transcripts x {args.columns} columns = {len(groups)} categories; "
          f"{1 + args.competencies} outcomes x 2 rate kinds")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min; 2 cores here, "
          "other jobs may be running)", flush=True)
    started = time.perf_counter()
    new = impact_table(outcomes, groups)
    after = time.perf_counter() - started
    print(f"after  (counts per group in one pass): {after:8.1f} s, {len(new):,} rows ({after / passes:.1f} s a "
          f"pass of every category)", flush=True)
    if not args.skip_before:
        started = time.perf_counter()
        old = fairlearn_impact_table(outcomes, groups)
        before = time.perf_counter() - started
        print(f"before (fairlearn MetricFrame each):   {before:8.1f} s, {len(old):,} rows")
        print(f"ratio before / after: {before / after:.1f}x")
        differences = same_figures(new, old)
        print("same table figure for figure" if not differences else
              f"{len(differences)} differences, e.g. {differences[:3]}")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
