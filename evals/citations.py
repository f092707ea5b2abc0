"""Citation by unit id, measured on the embedded model with the default options (full replies, one re-ask).

Grades the four sample transcripts against the seed rubric and the first N MIT development
interviews (../shared/data/mit-interview/, only read, never copied) against rubrics/mit-interview.yaml,
and prints per transcript: criteria, sentences cited, the share of criteria citing at least one
sentence, ids re-asked and rejected, whether every cited sentence is one of the candidate's (checked
here again against the transcript, not taken from the sheet's counts), completion tokens per call
and wall time. First, before any grading, the prompt tokens the unit ids add to each transcript
(exact counts with the embedded model's vocabulary, from its llama.cpp server's `/tokenize`).

One embedded server (llama.cpp's native server, `xllamacpp`) serves the counts and every grade;
grades are held to the reply schema as grader holds them on it (`response_format` json_schema).

    python -m evals.citations                 # samples and 5 MIT interviews (about 15 min on 2 cores)
    python -m evals.citations --mit 0         # the four samples only
    python -m evals.citations --tokens-only   # only what the ids add to the prompt (seconds, no generation)
    python -m evals.citations --mit 0 --samples short-screen.txt --threads 1   # one short sample graded
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

from evals.data import MIT_DATA, require
from grader import Grader, GradingOptions
from grader.grading.sheet import ScoreSheet
from grader.ingest.chunking import ServerTokens, TokenCounter, render_turn
from grader.ingest.formats import load_transcript
from grader.ingest.inputs import iter_sources
from grader.ingest.transcript import Role, Transcript, Turn
from grader.llm.backend import Backend, open_backend
from grader.resources import resolve

SAMPLES = ("strong-candidate.vtt", "mixed-candidate.srt", "weak-candidate.json", "short-screen.txt")
HEADER = ("| transcript | criteria | cited | criteria citing | re-asks | rejected | all cited are the candidate's "
          "| completion tokens / call | s |\n|---|---|---|---|---|---|---|---|---|")


def candidates_own(sheet: ScoreSheet, transcript: Transcript) -> bool:
    """Whether every cited id is a unit of a candidate turn whose text is the sheet's quote."""
    units = transcript.units()
    return all(e.unit in units and units[e.unit][0].role is Role.candidate and units[e.unit][1].text == e.text
               for g in sheet.grades for e in g.quotes())


def row(sheet: ScoreSheet, transcript: Transcript) -> tuple[str, dict[str, float]]:
    grades, c = sheet.grades, sheet.counts
    calls = sum(g.attempts for g in grades) or 1
    figures = {"criteria": len(grades), "cited": sum(len(g.quotes()) for g in grades),
               "citing": sum(bool(g.evidence) for g in grades), "reasks": c.reasks,
               "rejected": c.citations_rejected, "tokens": sheet.run.usage.completion_tokens,
               "calls": calls, "seconds": sheet.run.seconds}
    own = "yes" if candidates_own(sheet, transcript) else "**NO**"
    line = (f"| {transcript.id} | {len(grades)} | {figures['cited']} | {figures['citing']}/{len(grades)} | "
            f"{c.reasks} | {c.citations_rejected} | {own} | {figures['tokens'] / calls:.0f} | "
            f"{sheet.run.seconds:.0f} |")
    return line, figures


def total(label: str, rows: list[dict[str, float]]) -> str:
    s = {k: sum(r[k] for r in rows) for k in rows[0]}
    return (f"| **{label}** | {s['criteria']:.0f} | {s['cited']:.0f} | {s['citing'] / s['criteria']:.0%} | "
            f"{s['reasks']:.0f} | {s['rejected']:.0f} | | {s['tokens'] / s['calls']:.0f} | {s['seconds']:.0f} |")


def id_tokens(transcripts: list[Transcript], counter: TokenCounter) -> None:
    """Transcript tokens as rendered for the model, with the candidate's unit ids and without them."""
    print("\n| transcript | candidate units | tokens without ids | with ids | added | per unit |")
    print("|---|---|---|---|---|---|")
    for transcript in transcripts:
        without = sum(counter.count(_without_ids(t)) for t in transcript.turns)
        with_ids = sum(counter.count(render_turn(t)) for t in transcript.turns)
        units = len(transcript.candidate_unit_ids())
        print(f"| {transcript.id} | {units} | {without} | {with_ids} | +{(with_ids - without) / without:.0%} | "
              f"{(with_ids - without) / max(units, 1):.1f} |")


def _without_ids(turn: Turn) -> str:
    """The turn's line as the model sees it, minus the unit ids (rendered as another speaker's, relabelled)."""
    if turn.role is not Role.candidate:
        return render_turn(turn)
    label = Role.interviewer.value.capitalize()
    line = render_turn(turn.model_copy(update={"role": Role.interviewer}))
    return Role.candidate.value.capitalize() + line.removeprefix(label)


def measure(label: str, rubric: str, transcripts: list[Transcript], backend: Backend) -> None:
    print(f"\n{label} (rubric {rubric})\n\n{HEADER}", flush=True)
    rows = []
    with Grader(rubric, options=GradingOptions(), backend=backend) as grader:
        for transcript in transcripts:
            line, figures = row(grader.grade(transcript), transcript)
            rows.append(figures)
            print(line, flush=True)
    print(total("all", rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mit", type=int, default=5, help="MIT development interviews to grade (0: none)")
    parser.add_argument("--data", default=str(MIT_DATA), help="folder of the MIT interview data")
    parser.add_argument("--tokens-only", action="store_true", help="only the prompt tokens the ids add")
    parser.add_argument("--samples", nargs="*", choices=SAMPLES, default=list(SAMPLES), metavar="NAME",
                        help=f"sample transcripts to use (default: all four: {', '.join(SAMPLES)})")
    parser.add_argument("--threads", type=int, help="threads of the embedded server (default: all cores)")
    args = parser.parse_args()
    samples = [load_transcript(resolve("transcripts", s)) for s in args.samples]
    mit = []
    if args.mit:
        data = require(Path(args.data) / "transcripts.csv")
        mit = [s.load() for s in itertools.islice(iter_sources([str(data)]), args.mit)]
    print(f"load average: {_load()}", flush=True)
    with open_backend(timeout=600.0, threads=args.threads) as backend:  # the embedded model unless $OPENAI_BASE_URL
        id_tokens(samples + mit, ServerTokens(backend.client))
        if not args.tokens_only:
            if samples:
                measure(f"{len(samples)} sample{'s' if len(samples) > 1 else ''}", "senior-data-scientist", samples,
                        backend)
            if mit:
                measure(f"{len(mit)} MIT development interviews", "mit-interview", mit, backend)
    print(f"\nload average: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
