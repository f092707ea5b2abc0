"""The self-contained HTML report: the same figures as report.md, with plots embedded as PNG data.

Plots (matplotlib's object API, no GUI backend): quadratic kappa per criterion and source with its 95%
interval; confusion matrices (gold level × model level) per criterion and source; calibration
curves (mean gold level against the model's stated and expected level, with the isotonic fit); the
coverage curve (agreement as the most uncertain grades are sent to people, against sending at random).

The test-retest, samples-and-judges and coverage sections are report.md's own Markdown (`report.py`'s
`reliability_lines`, `panel_lines`, `coverage_lines`), in which every id and name is escaped (`md`), rendered
by markdown-it-py with raw HTML, links and images off: one text for both reports, and nothing in it can
become markup or fetch from another site.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup
from matplotlib.figure import Figure

from grader.agreement.calibration import fit_mapping
from grader.agreement.coverage import CoverageCurve
from grader.agreement.evaluate import KEYS, SOURCES, consensus
from grader.agreement.figures import DEFAULT_INTERVAL, LEVELS, IntervalKind, confusion
from grader.agreement.gold import GoldLabels
from grader.agreement.report import (
    CEILING,
    DECISIONS_NOTE,
    SHOWN,
    ceiling_rows,
    cell,
    coverage_lines,
    disagreements,
    intervals_note,
    no_ceiling,
    panel_lines,
    reliability_lines,
    report_notes,
)
from grader.runs.store import RunStore

TEMPLATE = Path(__file__).parent / "templates" / "report.html.j2"


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def kappa_plot(table: pd.DataFrame) -> str | None:
    rows = table[table["kind"] == "criterion"]
    if rows["quadratic_kappa_score"].notna().sum() == 0:
        return None
    criteria, sources = list(dict.fromkeys(rows["scope"])), list(dict.fromkeys(rows["source"]))
    fig = Figure(figsize=(1.6 + 1.4 * len(criteria), 3.6))
    ax = fig.subplots()
    width = 0.8 / len(sources)
    for i, source in enumerate(sources):
        part = rows[rows["source"] == source].set_index("scope").reindex(criteria)
        x = np.arange(len(criteria)) + (i - (len(sources) - 1) / 2) * width
        value = part["quadratic_kappa_score"].astype(float)
        low = (value - part["quadratic_kappa_score_low"].astype(float)).clip(lower=0)
        high = (part["quadratic_kappa_score_high"].astype(float) - value).clip(lower=0)
        ax.errorbar(x, value, yerr=[low.fillna(0), high.fillna(0)], fmt="o", capsize=3, label=source)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(len(criteria)), criteria, rotation=20, ha="right")
    ax.set_ylabel("quadratic kappa (95% CI)")
    ax.set_ylim(-1, 1)
    ax.legend(fontsize=7, loc="lower left", ncols=2)
    return _png(fig)


def confusion_plot(sources: dict[str, pd.DataFrame], truth: pd.DataFrame) -> str | None:
    criteria = sorted(truth["criterion_id"].unique())
    paired = {name: truth.merge(frame, on=KEYS).dropna(subset=["level"]) for name, frame in sources.items()}
    paired = {name: frame for name, frame in paired.items() if len(frame)}
    if not paired:
        return None
    fig = Figure(figsize=(2.3 * len(criteria), 2.3 * len(paired)))
    axes = fig.subplots(len(paired), len(criteria), squeeze=False)
    for r, (name, frame) in enumerate(paired.items()):
        for c, criterion in enumerate(criteria):
            part = frame[frame["criterion_id"] == criterion]
            matrix = np.array(confusion(part["level"].astype(int), part["gold"].astype(int)))
            ax = axes[r][c]
            ax.imshow(matrix, cmap="Blues")
            for (i, j), n in np.ndenumerate(matrix):
                if n:
                    ax.text(j, i, str(n), ha="center", va="center", fontsize=7)
            ax.set_xticks(range(5), LEVELS, fontsize=7)
            ax.set_yticks(range(5), LEVELS, fontsize=7)
            ax.set_title(f"{criterion}\n{name}", fontsize=8)
            if c == 0:
                ax.set_ylabel("gold level", fontsize=7)
            if r == len(paired) - 1:
                ax.set_xlabel("model level", fontsize=7)
    return _png(fig)


def calibration_plot(model: pd.DataFrame, truth: pd.DataFrame) -> str | None:
    joined = truth.merge(model, on=KEYS)
    criteria = sorted(truth["criterion_id"].unique())
    if joined["stated"].notna().sum() == 0 and joined["expected"].notna().sum() == 0:
        return None
    fig = Figure(figsize=(2.8 * len(criteria), 2.8), layout="tight")
    axes = fig.subplots(1, len(criteria), squeeze=False)
    for ax, criterion in zip(axes[0], criteria, strict=True):
        part = joined[joined["criterion_id"] == criterion]
        for column, marker in (("stated", "o"), ("expected", "s")):
            have = part.dropna(subset=[column])
            if len(have) < 2:
                continue
            bins = have[column].round() if column == "stated" else pd.qcut(have[column], 5, duplicates="drop")
            means = have.groupby(bins, observed=True).agg(x=(column, "mean"), y=("gold", "mean"),
                                                          sd=("gold", "std"), n=("gold", "size"))
            ci = 1.96 * means["sd"].fillna(0) / np.sqrt(means["n"])
            ax.errorbar(means["x"], means["y"], yerr=ci, fmt=marker, capsize=2, label=f"{column} level")
            if column == "stated" and have[column].nunique() > 1:
                mapping = fit_mapping(have[column].to_numpy(float), have["gold"].to_numpy(float))
                ax.step(mapping.x, mapping.y, where="post", lw=1, label="isotonic fit (stated)")
        ax.plot([1, 5], [1, 5], color="grey", lw=0.8, ls="--")
        ax.set_xlim(0.5, 5.5)
        ax.set_ylim(0.5, 5.5)
        ax.set_title(criterion, fontsize=9)
        ax.set_xlabel("model", fontsize=8)
        ax.set_ylabel("mean gold level (95% CI)", fontsize=8)
    labelled = next((ax for ax in axes.flat if ax.get_legend_handles_labels()[1]), None)
    if labelled is not None:  # a criterion with fewer than two paired grades draws nothing to label
        labelled.legend(fontsize=6)
    return _png(fig)


def coverage_plot(curve: CoverageCurve | None) -> str | None:
    """Quadratic kappa and exact agreement against the share of grades sent to people: uncertain first, and at
    random (mean ± one standard deviation over the draws)."""
    if curve is None or not curve.paired:
        return None
    rows = curve.table
    fig = Figure(figsize=(8, 3))
    for ax, figure, label in zip(fig.subplots(1, 2), ("quadratic_kappa_score", "exact_agreement_score"),
                                 ("κ quadratic", "exact agreement"), strict=True):
        x = rows["fraction"] * 100
        ax.plot(x, rows[f"uncertain_{figure}"], marker="o", label="most uncertain first")
        mean, sd = rows[f"random_{figure}"], rows[f"random_sd_{figure}"]
        ax.plot(x, mean, linestyle="--", color="grey", label="at random (mean ± sd)")
        ax.fill_between(x, mean - sd, mean + sd, color="grey", alpha=0.2)
        ax.set_xlabel("grades sent to people (%)", fontsize=8)
        ax.set_ylabel(f"{label} with the gold", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=7)
    return _png(fig)


def markdown_sections(lines: list[str]) -> Markup:
    """report.md's lines as HTML: tables on; raw HTML, links and images off (so `<`, `&`, `[a](url)` in any text
    are text, never markup or a request to another site)."""
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["link", "image", "autolink"])
    return Markup(renderer.render("\n".join(lines)))  # markdown-it escaped every text it was given


def write_html(table: pd.DataFrame, gold: GoldLabels, store: RunStore, sources: dict[str, pd.DataFrame],
               model: pd.DataFrame, out_dir: Path, title: str, notes: list[str], decisions: pd.DataFrame,
               interval: IntervalKind = DEFAULT_INTERVAL, reliability: pd.DataFrame | None = None,
               panel: pd.DataFrame | None = None, coverage: CoverageCurve | None = None) -> Path:
    """report.html: report.md's figures as tables, with plots; the reliability, panel and coverage sections when
    the evaluation has them."""
    truth = consensus(gold)
    sections = (reliability_lines(reliability, interval) if reliability is not None else []) + \
        (panel_lines(panel, interval) if panel is not None else [])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE.parent), autoescape=True)
    html = env.get_template(TEMPLATE.name).render(
        title=title, rule=gold.rule.describe(), items=len(truth), raters=gold.frame["rater_id"].nunique(),
        problems=gold.problems, notes=report_notes(gold, notes), intervals=intervals_note(interval), shown=SHOWN,
        cell=cell, descriptions=SOURCES, ceiling=ceiling_rows(table), ceiling_shown=CEILING,
        no_ceiling=no_ceiling(gold),
        tables=[(name, part) for name, part in table.groupby("source", sort=False)],
        kappa=kappa_plot(table), confusion=confusion_plot(sources, truth), calibration=calibration_plot(model, truth),
        counted=disagreements(store, gold), stated=disagreements(store, gold, counted=False),
        decisions=decisions, decisions_note=DECISIONS_NOTE, sections=markdown_sections(sections),
        coverage=markdown_sections(coverage_lines(coverage)) if coverage is not None else None,
        coverage_plot=coverage_plot(coverage))
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
