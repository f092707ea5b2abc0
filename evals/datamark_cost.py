"""What datamarking (spotlighting) costs in prompt tokens, on the sample transcripts.

    python -m evals.datamark_cost [--no-server] [--rubric senior-data-scientist]

For each sample transcript (`transcripts/`), the first criterion's prompt is rendered as one chunk
with the default prompt (`grade-criterion`) and with the datamarked one
(`grade-criterion-datamarked`, marker ˆ, and the ASCII caret ^ for comparison), and counted:
- `gguf`: exact counts with the embedded model's own vocabulary (SmolLM2, through its llama.cpp
  server's /tokenize; the server is started for the run, about 10 s), unless `--no-server`;
- `estimate`: `EstimatedTokens` (4 characters a token), an estimate for any model, labelled so;
  it is blind to datamarking's real cost (a marker replaces a space: the characters stay the
  same, but each word loses the leading space its BPE token carried), so read the gguf figures.

Prints per transcript the tokens of the whole prompt (system + user) and of the transcript block
alone, with each datamarked variant's extra tokens and the ratio. Every criterion of a transcript
repeats the same system part (a cached prefix on servers that cache), so the extra is paid once
per transcript on such servers and once per criterion on others.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from grader.grading.prompts import DATAMARK, DATAMARKED_PROMPT, DEFAULT_PROMPT, load_prompt
from grader.ingest.chunking import Chunk, EstimatedTokens, ServerTokens, TokenCounter
from grader.ingest.formats import load_transcript
from grader.ingest.rubric import load_rubric
from grader.resources import library, resolve

VARIANTS = (("default", DEFAULT_PROMPT, None), ("datamark ˆ", DATAMARKED_PROMPT, DATAMARK),
            ("datamark ^", DATAMARKED_PROMPT, "^"))


@contextlib.contextmanager
def counters(server: bool) -> Iterator[list[TokenCounter]]:
    if not server:
        yield [EstimatedTokens()]
        return
    from grader.llm.backend import open_backend  # starts the embedded model only when asked

    with open_backend() as backend:
        yield [ServerTokens(backend.client), EstimatedTokens()]


def block(system: str) -> str:
    """The transcript block of a rendered system part."""
    end = system.rindex("</transcript>")
    return system[system.rindex("<transcript", 0, end):end]


def rows(rubric_name: str, counter: TokenCounter) -> list[str]:
    rubric = load_rubric(resolve("rubrics", rubric_name))
    competency, criterion = rubric.criteria()[0]
    prompts = [(name, load_prompt(prompt, datamark=mark)) for name, prompt, mark in VARIANTS]
    lines = [f"{'transcript':<24} {'variant':<12} {'prompt':>8} {'extra':>7} {'ratio':>6} {'block':>7} {'extra':>7} "
             f"{'ratio':>6}"]
    totals = {name: [0, 0] for name, _ in prompts}
    for path in sorted(p for p in library("transcripts").iterdir() if p.suffix in (".vtt", ".srt", ".json", ".txt")):
        transcript = load_transcript(Path(str(path)))
        chunk = Chunk(index=1, tokens=0, turns=transcript.turns)
        base_prompt = base_block = 0
        for name, prompt in prompts:
            messages = prompt.render(rubric, competency, criterion, chunk)
            whole = counter.count(messages.system) + counter.count(messages.user)
            data = counter.count(block(messages.system))
            totals[name][0] += whole
            totals[name][1] += data
            if name == "default":
                base_prompt, base_block = whole, data
            lines.append(f"{path.name:<24} {name:<12} {whole:>8} {whole - base_prompt:>+7} {whole / base_prompt:>6.2f} "
                         f"{data:>7} {data - base_block:>+7} {data / base_block:>6.2f}")
    base = totals["default"]
    for name, (whole, data) in totals.items():
        lines.append(f"{'all four':<24} {name:<12} {whole:>8} {whole - base[0]:>+7} {whole / base[0]:>6.2f} "
                     f"{data:>7} {data - base[1]:>+7} {data / base[1]:>6.2f}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-server", action="store_true", help="the estimate only (no embedded model)")
    parser.add_argument("--rubric", default="senior-data-scientist")
    args = parser.parse_args(argv)
    with counters(not args.no_server) as found:
        for counter in found:
            label = "exact, the embedded model's vocabulary" if counter.name == "gguf" else "an estimate: 4 chars/token"
            print(f"\ntokens counted by {counter.name} ({label}); 'block' is the transcript block alone")
            print("\n".join(rows(args.rubric, counter)))


if __name__ == "__main__":
    main()
