"""Leak rates of the redactor per kind of personal data, on the labelled set of `evals/pii_cases.py`.

    python -m evals.pii_redaction [--show-heldout] [--module grader.safety.redact]

Each case is redacted alone by a `Redactor` for the set's speakers (`evals.pii_cases.SPEAKERS`),
as grading redacts a transcript (`prepare`, then `redact`). A secret leaks when it is still in the
redacted text (case-insensitive, as a whole word); a `keep` case is damaged when any of it changed.
Organisations are measured twice: as by default (kept: `redact_orgs` off) and with `redact_orgs`.

Prints, for the development half and the held-out half, the leak rate per kind (secrets leaked /
secrets) and the damage rate of the kept strings, then the dev half's leaks and damage (the held-out
half is measured, not read, unless `--show-heldout`). `--module` names another module with a
`Redactor` (the code before a change, put on PYTHONPATH) to measure it the same way.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Sequence
from typing import Any

from evals.pii_cases import SPEAKERS, Case, cases


def redactor(module: Any, redact_orgs: bool) -> Any:
    if redact_orgs:
        try:
            return module.Redactor.from_speakers(SPEAKERS, redact_orgs=True)
        except TypeError:  # a redactor from before the option: it cannot
            return module.Redactor.from_speakers(SPEAKERS)
    return module.Redactor.from_speakers(SPEAKERS)


def redacted(module: Any, case: Case, redact_orgs: bool = False) -> str:
    engine = redactor(module, redact_orgs)
    engine.prepare([case.text])
    return str(engine.redact(case.text))


def leaked(text: str, secret: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", text, re.IGNORECASE) is not None


def figures(module: Any, chosen: Sequence[Case], redact_orgs: bool) -> tuple[int, int, list[str]]:
    """(leaked or damaged, out of, the lines that show them)."""
    bad, total, lines = 0, 0, []
    for case in chosen:
        out = redacted(module, case, redact_orgs)
        if case.kind == "keep":
            total += 1
            if out != case.text:
                bad += 1
                lines.append(f"  damaged {case.id}: {case.text!r} -> {out!r}")
            continue
        for secret in case.secrets:
            total += 1
            if leaked(out, secret):
                bad += 1
                lines.append(f"  leaked  {case.id}: {secret!r} in {out!r}")
    return bad, total, lines


def report(module: Any, show_heldout: bool = False) -> list[str]:
    every = cases()
    lines = [f"labelled set: {len(every)} strings (evals/pii_cases.py); redactor: {module.__name__}"]
    rows = [(kind, kind, False) for kind in ("third_party", "nickname", "spoken_number", "dob")]
    rows += [("org (default)", "org", False), ("org (redact_orgs)", "org", True), ("keep: damaged", "keep", False)]
    for split in ("dev", "heldout"):
        half = [c for c in every if c.split == split]
        lines += ["", f"-- {split}", f"  {'kind':<20} {'leak rate':>22}"]
        shown: list[str] = []
        for name, kind, orgs in rows:
            bad, total, wrong = figures(module, [c for c in half if c.kind == kind], orgs)
            lines.append(f"  {name:<20} {bad / total:>8.1%} ({bad:>3}/{total:<3})")
            if name != "org (default)":
                shown += wrong
        if split == "dev" or show_heldout:
            lines += shown
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="grader.safety.redact")
    parser.add_argument("--show-heldout", action="store_true")
    args = parser.parse_args(argv)
    print("\n".join(report(importlib.import_module(args.module), args.show_heldout)))


if __name__ == "__main__":
    main()
