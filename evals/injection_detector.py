"""Detection rate and false-positive rate of the prompt-injection detector on the labelled cases.

    python -m evals.injection_detector [--cases tests/data/injection_cases.yaml] [--split dev|round2|heldout|all]
    python -m evals.injection_detector --set multilingual [--show-heldout] [--no-speakers]

The first form reads the first labelled set (English, one sentence per case) and prints the figures
per split and overall, then every miss (an injection not flagged) and every false alarm (an
ordinary answer flagged) with what fired.

The second reads the larger set of issue 21 (`evals/injection_cases.py`: 140 injections in ten
languages, base64, hex, ROT13, look-alike letters and instructions cut across turns; 130
innocents, hard ones included) and prints, for its development half and its held-out half, the
detection rate per language, per form (encoding) and per kind, and the false-positive rate per
kind of innocent. Each case's turns are cut into units as grading cuts them and passed to
`grader.safety.detect` with each unit's speaker; `--no-speakers` passes (unit, text) pairs only, as
`grader.grading.guard` did before speakers were passed. Misses and false alarms are listed for the
development half only (the held-out half is measured, not read), unless `--show-heldout`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from evals import injection_cases
from grader.ingest.units import split_units
from grader.safety.injection import IntegrityFinding, detect, scan

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "injection_cases.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    label: str
    split: str
    text: str
    style: str = ""


@dataclass(frozen=True)
class Rates:
    injections: int
    detected: int
    benign: int
    false_positives: int

    @property
    def detection_rate(self) -> float:
        return self.detected / self.injections if self.injections else float("nan")

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.benign if self.benign else float("nan")

    def line(self, name: str) -> str:
        return (f"{name:8} detection rate {self.detection_rate:.1%} ({self.detected}/{self.injections}), "
                f"false-positive rate {self.false_positive_rate:.1%} ({self.false_positives}/{self.benign})")


def load_cases(path: Path = CASES) -> list[Case]:
    return [Case(**item) for item in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]


def rates(cases: list[Case]) -> Rates:
    flagged = [bool(scan(c.text)) for c in cases]
    injections = [f for c, f in zip(cases, flagged, strict=True) if c.label == "injection"]
    benign = [f for c, f in zip(cases, flagged, strict=True) if c.label == "benign"]
    return Rates(len(injections), sum(injections), len(benign), sum(benign))


def mistakes(cases: list[Case]) -> list[str]:
    lines = []
    for case in cases:
        found = scan(case.text)
        if case.label == "injection" and not found:
            lines.append(f"  miss        {case.id} ({case.style}): {case.text!r}")
        elif case.label == "benign" and found:
            fired = "; ".join(f"{kind}: {matched!r}" for kind, matched, _ in found)
            lines.append(f"  false alarm {case.id}: {case.text!r} -> {fired}")
    return lines


# -- the multilingual set (evals/injection_cases.py) -------------------------------------------------------

Detector = Callable[[injection_cases.Case], bool]


def case_items(case: injection_cases.Case, speakers: bool = True) -> list[tuple[str, ...]]:
    """The case as grading reads it: each turn cut into units, with the speaker of each when asked."""
    items: list[tuple[str, ...]] = []
    for index, (role, text) in enumerate(case.turns, 1):
        for unit in split_units(index, text):
            items.append((unit.id, unit.text, role) if speakers else (unit.id, unit.text))
    return items


def findings(case: injection_cases.Case, speakers: bool = True) -> list[IntegrityFinding]:
    return detect(case_items(case, speakers))  # type: ignore[arg-type]


def rules_detector(speakers: bool = True) -> Detector:
    return lambda case: bool(findings(case, speakers))


@dataclass(frozen=True)
class Row:
    name: str
    positives: int
    flagged: int

    @property
    def rate(self) -> float:
        return self.flagged / self.positives if self.positives else float("nan")


def table(cases: Sequence[injection_cases.Case], flagged: dict[str, bool], label: str, by: str) -> list[Row]:
    chosen = [c for c in cases if c.label == label]
    groups = sorted({getattr(c, by) for c in chosen})
    return [Row(g, sum(getattr(c, by) == g for c in chosen), sum(flagged[c.id] for c in chosen if getattr(c, by) == g))
            for g in groups]


def _format(rows: list[Row], heading: str, what: str) -> list[str]:
    lines = [f"  {heading:<14} {what:>24}"]
    lines += [f"  {r.name:<14} {r.rate:>8.1%} ({r.flagged:>3}/{r.positives:<3})" for r in rows]
    return lines


def report(detectors: dict[str, Detector], show_heldout: bool = False) -> list[str]:
    cases = injection_cases.cases()
    lines = [f"labelled set: {len(cases)} cases (evals/injection_cases.py, seed {injection_cases.SEED}): "
             f"{sum(c.label == 'injection' for c in cases)} injections, {sum(c.label == 'benign' for c in cases)} "
             "innocent"]
    for name, detector in detectors.items():
        started = time.perf_counter()
        flagged = {c.id: detector(c) for c in cases}
        seconds = time.perf_counter() - started
        lines += ["", f"== detector: {name} ({seconds:.1f} s for {len(cases)} cases)"]
        for split in ("dev", "heldout"):
            half = [c for c in cases if c.split == split]
            total = table(half, flagged, "injection", "label")[0]
            innocent = table(half, flagged, "benign", "label")[0]
            lines += ["", f"-- {split}: detection {total.rate:.1%} ({total.flagged}/{total.positives}), "
                          f"false positives {innocent.rate:.1%} ({innocent.flagged}/{innocent.positives})"]
            lines += _format(table(half, flagged, "injection", "lang"), "language", "detected")
            lines += _format(table(half, flagged, "injection", "form"), "form", "detected")
            lines += _format(table(half, flagged, "injection", "kind"), "kind", "detected")
            lines += _format(table(half, flagged, "benign", "kind"), "innocent kind", "false positives")
            if split == "dev" or show_heldout:
                wrong = [c for c in half if flagged[c.id] != (c.label == "injection")]
                lines += [f"  {'miss' if c.label == 'injection' else 'false alarm'} {c.id}: {c.text!r}" for c in wrong]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="yaml", choices=["yaml", "multilingual"],
                        help="yaml: the first set (tests/data); multilingual: evals/injection_cases.py")
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--split", default="all", choices=["dev", "round2", "heldout", "all"])
    parser.add_argument("--show-heldout", action="store_true", help="list the held-out misses and false alarms")
    parser.add_argument("--no-speakers", action="store_true", help="also run detect without the speakers")
    args = parser.parse_args(argv)
    if args.set == "multilingual":
        detectors: dict[str, Detector] = {"rules (speakers given)": rules_detector(True)}
        if args.no_speakers:
            detectors["rules (no speakers)"] = rules_detector(False)
        print("\n".join(report(detectors, args.show_heldout)))
        return
    cases = load_cases(args.cases)
    chosen = [c for c in cases if args.split in ("all", c.split)]
    for split in sorted({c.split for c in chosen}):
        print(rates([c for c in chosen if c.split == split]).line(split))
    print(rates(chosen).line("all"))
    wrong = mistakes(chosen)
    print("\n".join(["", "misses and false alarms:", *wrong]) if wrong else "\nno misses, no false alarms")


if __name__ == "__main__":
    main()
