"""The `grader` command line. Errors become one friendly paragraph here, at the edge."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.backend import Backend, open_backend
from grader.chunking import EstimatedTokens, GGUFTokens, TokenCounter
from grader.embedded import model_path
from grader.errors import GraderError
from grader.formats import FORMATS, load_transcript
from grader.grade import grade_transcript
from grader.prompts import DEFAULT_PROMPT, load_prompt
from grader.rubric import load_rubric
from grader.rubric_import import import_rubric_text, rubric_to_yaml
from grader.sheet import ScoreSheet
from grader.transcript import Role

if TYPE_CHECKING:
    from grader.calibration import Calibration

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUBRIC = ROOT / "rubrics" / "senior-data-scientist.yaml"
DEMO_TRANSCRIPT = ROOT / "transcripts" / "strong-candidate.vtt"

app = typer.Typer(help="Grade interview transcripts against a competency rubric with an LLM, citing "
                       "verified evidence.", no_args_is_help=True, pretty_exceptions_enable=False)
rubric_app = typer.Typer(help="Check, import and describe rubric files.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible server, e.g. http://localhost:8000/v1 "
                                             "(default: $OPENAI_BASE_URL, else the embedded model)")]
Model = Annotated[str | None, typer.Option(help="model name the server serves")]
ApiKey = Annotated[str | None, typer.Option(help="API key (default: $OPENAI_API_KEY)", show_default=False)]


class ReplyChoice(StrEnum):
    full = "full"
    compact = "compact"


ReplyKind = Annotated[ReplyChoice, typer.Option("--reply", help="reply schema: full (up to 3 quotes) or compact "
                                                                "(one quote, short rationale: faster)")]
LevelProbs = Annotated[bool, typer.Option(help="record each level's probability from token log-probabilities "
                                              "(G-Eval); the embedded server then keeps all logits (slower)")]


def fail(exc: GraderError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)


def _roles(candidate: list[str], interviewer: list[str]) -> dict[str, Role]:
    return {**{n: Role.interviewer for n in interviewer}, **{n: Role.candidate for n in candidate}}


def _counter(backend: Backend) -> TokenCounter:
    return GGUFTokens(model_path()) if backend.info.embedded else EstimatedTokens()


@app.command()
def grade(
    transcripts: Annotated[list[Path], typer.Argument(help="transcript files (plain, mit, vtt, srt, json)")],
    rubric: Annotated[Path, typer.Option(help="rubric YAML file")] = DEFAULT_RUBRIC,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the score sheets")] = Path("out"),
    fmt: Annotated[str | None, typer.Option("--format", help=f"one of {', '.join(FORMATS)}")] = None,
    candidate: Annotated[list[str], typer.Option(help="speaker name of the candidate")] = [],  # noqa: B006
    interviewer: Annotated[list[str], typer.Option(help="speaker name of an interviewer")] = [],  # noqa: B006
    prompt: Annotated[Path, typer.Option(help="prompt template file")] = DEFAULT_PROMPT,
    base_url: BaseUrl = None, model: Model = None, api_key: ApiKey = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 7,
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 0.0,
    reasks: Annotated[int, typer.Option(help="re-asks after a reply that fails validation")] = 1,
    show: Annotated[bool, typer.Option(help="print each Markdown score sheet")] = False,
    calibration: Annotated[Path | None, typer.Option(help="calibration file fitted for this rubric and model")] = None,
    level_probs: LevelProbs = False,
    reply: ReplyKind = ReplyChoice.full,
) -> None:
    """Grade transcripts; write a JSON and a Markdown score sheet for each into --out."""
    try:
        cal = None
        if calibration:
            from grader.calibration import Calibration  # scikit-learn only when needed

            cal = Calibration.load(calibration)
        sheets = run_grading(transcripts, rubric, out_dir, fmt, _roles(candidate, interviewer), prompt,
                             base_url, model, api_key, seed, temperature, reasks, show, cal, level_probs, reply.value)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    if len(sheets) < len(transcripts):
        raise typer.Exit(1)


def run_grading(paths: list[Path], rubric_path: Path, out_dir: Path, fmt: str | None, roles: dict[str, Role],
                prompt_path: Path, base_url: str | None, model: str | None, api_key: str | None, seed: int,
                temperature: float, reasks: int, show: bool,
                calibration: Calibration | None = None, level_probs: bool = False,
                reply: str = "full") -> list[ScoreSheet]:
    """Grade each transcript; a bad transcript is reported and the others still graded."""
    from grader.scoring import Settings

    rubric = load_rubric(rubric_path)
    prompt = load_prompt(prompt_path)
    loaded = []
    for path in paths:
        try:
            loaded.append(load_transcript(path, fmt=fmt, roles=roles))
        except GraderError as exc:
            fail(exc)
    if not loaded:
        return []
    sheets = []
    with open_backend(base_url, model, api_key, logprobs=level_probs) as backend:
        settings = Settings(model=backend.info.model, seed=seed, temperature=temperature, reasks=reasks,
                            level_probs=level_probs, reply=reply)
        counter = _counter(backend)
        for transcript in loaded:
            sheet = _grade_with_progress(transcript, rubric, backend, prompt, settings, counter, calibration)
            json_path, md_path = sheet.write(out_dir, rubric)
            err.print(f"{transcript.id}: {_summary(sheet)} → {md_path} and {json_path.name}")
            if show:
                out.print(Markdown(md_path.read_text(encoding="utf-8")))
            sheets.append(sheet)
    return sheets


def _grade_with_progress(transcript, rubric, backend, prompt, settings, counter,  # noqa: ANN001
                         calibration) -> ScoreSheet:  # noqa: ANN001
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(transcript.id, total=len(rubric.criteria()))

        def tick(competency, criterion, grade) -> None:  # noqa: ANN001
            if grade is None:
                progress.update(task, description=f"{transcript.id}: {criterion.name[:40]}")
            else:
                progress.advance(task)

        return grade_transcript(transcript, rubric, backend, prompt, settings, counter, tick, calibration=calibration)


def _summary(sheet: ScoreSheet) -> str:
    decisions = ", ".join(f"{c.name}: {c.decision.value}" for c in sheet.competencies)
    c = sheet.counts
    return (f"{decisions}; quotes verified {c.quotes_verified}, rejected {c.quotes_rejected}, "
            f"re-asks {c.reasks}, unscored {c.unscored}, {sheet.run.seconds:.0f} s")


@app.command()
def demo(
    transcript: Annotated[Path, typer.Option(help="sample transcript to grade")] = DEMO_TRANSCRIPT,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the score sheet")] = Path("out/demo"),
    base_url: BaseUrl = None, model: Model = None, api_key: ApiKey = None,
) -> None:
    """Grade a sample transcript against the seed rubric (embedded model by default) and print the sheet."""
    try:
        sheets = run_grading([transcript], DEFAULT_RUBRIC, out_dir, None, {}, DEFAULT_PROMPT, base_url, model,
                             api_key, 7, 0.0, 1, show=True)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    if not sheets:
        raise typer.Exit(1)


@rubric_app.command("schema")
def rubric_schema() -> None:
    """Print the JSON Schema of rubric files."""
    import json

    from grader.rubric import rubric_json_schema

    print(json.dumps(rubric_json_schema(), indent=2))


@rubric_app.command("check")
def rubric_check(files: Annotated[list[Path], typer.Argument(help="rubric YAML files")]) -> None:
    """Validate rubric files and say what is wrong and where."""
    bad = 0
    for path in files:
        try:
            rubric = load_rubric(path)
        except GraderError as exc:
            fail(exc)
            bad += 1
            continue
        out.print(f"{path}: ok ({len(rubric.competencies)} competencies, {len(rubric.criteria())} criteria)")
    if bad:
        raise typer.Exit(2)


@rubric_app.command("import")
def rubric_import(
    file: Annotated[Path, typer.Argument(help="the rubric's plain-text export")],
    output: Annotated[Path | None, typer.Option("--out", help="YAML file to write (default: print)")] = None,
    rubric_id: Annotated[str | None, typer.Option("--id", help="rubric id (default: from the file name)")] = None,
    title: Annotated[str | None, typer.Option(help="rubric title")] = None,
) -> None:
    """Convert a rubric's text export into rubric YAML; stops at any row it cannot split with confidence."""
    try:
        rubric = import_rubric_text(file, rubric_id=rubric_id, title=title)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    text = rubric_to_yaml(rubric)
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output} ({len(rubric.competencies)} competencies, {len(rubric.criteria())} criteria)")
    else:
        print(text, end="")


from grader import cli_batch, cli_eval  # noqa: E402, F401  (register batch, export, eval, calibrate, compare)
