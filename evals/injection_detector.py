"""Detection rate and false-positive rate of the prompt-injection detector on the labelled cases.

    python -m evals.injection_detector [--cases tests/data/injection_cases.yaml] [--split dev|round2|heldout|all]

Prints the figures per split and overall, then every miss (an injection not flagged) and every
false alarm (an ordinary answer flagged) with what fired.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import yaml

from grader.safety.injection import scan

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--split", default="all", choices=["dev", "round2", "heldout", "all"])
    args = parser.parse_args(argv)
    cases = load_cases(args.cases)
    chosen = [c for c in cases if args.split in ("all", c.split)]
    for split in sorted({c.split for c in chosen}):
        print(rates([c for c in chosen if c.split == split]).line(split))
    print(rates(chosen).line("all"))
    wrong = mistakes(chosen)
    print("\n".join(["", "misses and false alarms:", *wrong]) if wrong else "\nno misses, no false alarms")


if __name__ == "__main__":
    main()
