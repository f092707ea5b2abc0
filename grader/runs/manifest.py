"""The run manifest: what a run was graded with, written once when the run is created.

Everything that reads a run (eval, calibrate, compare, export) takes the rubric from here, and a
batch that resumes a run is refused when its rubric, prompt, reply schema, settings, samples and
judges (k, each judge's name, server, model and weight, the rule, the review threshold), or
exemplars (the set's hash, how many per level, the group pattern) differ: a run never mixes them.
The rubric's YAML is kept whole, so a run can be re-read without its file.
The backend is recorded as `scheme://host:port` and model only; a key is never part of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

import yaml
from pydantic import BaseModel, ConfigDict, Field

from grader.errors import GraderError, RubricError
from grader.grading.exemplar_block import ExemplarsInfo, exemplar_differences
from grader.grading.grades import Settings
from grader.grading.panel import PanelInfo, panel_differences
from grader.grading.prompts import PromptTemplate
from grader.grading.reply import reply_schema_sha256
from grader.ingest.rubric import Rubric, parse_rubric
from grader.llm.backend import BackendInfo

MANIFEST_VERSION = 1


class RunManifest(BaseModel):
    """What one run was graded with; the run store holds exactly one, never rewritten."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    manifest_version: int = MANIFEST_VERSION
    rubric_id: str
    rubric_hash: str
    rubric_yaml: str = Field(description="the rubric itself, so the run can be re-read without its file")
    prompt_version: str
    prompt_sha256: str
    reply_schema_sha256: str
    settings: Settings
    backend: BackendInfo = Field(description="server (scheme://host:port) and model; never the key")
    grader_version: str
    created_at: datetime
    panel: PanelInfo | None = Field(
        None, exclude_if=lambda v: v is None,
        description="k samples per criterion, the judges (name, server, model, weight; never a key) and their rule; "
                    "None: one sample of `backend`. With a panel, `backend` and `settings` are the first judge's")
    exemplars: ExemplarsInfo | None = Field(
        None, exclude_if=lambda v: v is None,
        description="the exemplars shown in every prompt (--exemplars): the set's hash, k per level, the group "
                    "pattern; None: no exemplars")

    def rubric(self) -> Rubric:
        """The rubric the run was graded with, read back from the manifest."""
        rubric = parse_rubric(self.rubric_yaml, source="the run manifest")
        if rubric.content_hash() != self.rubric_hash:
            raise RubricError(f"the rubric kept in the run manifest hashes to {rubric.content_hash()}, "
                              f"not {self.rubric_hash}", fix="the run store was altered; regrade into a new run")
        return rubric

    def differences(self, other: RunManifest) -> list[str]:
        """What differs between two manifests, in words; empty when a run may resume with `other`."""
        found = []
        if self.rubric_hash != other.rubric_hash:
            found.append(f"rubric {self.rubric_id} ({self.rubric_hash}) vs {other.rubric_id} ({other.rubric_hash})")
        if self.prompt_sha256 != other.prompt_sha256:
            found.append(f"prompt {self.prompt_version} ({self.prompt_sha256}) vs "
                         f"{other.prompt_version} ({other.prompt_sha256})")
        if self.reply_schema_sha256 != other.reply_schema_sha256:
            found.append(_reply_difference(self, other))
        found += setting_differences(self.settings, other.settings)
        found += panel_differences(self.panel, other.panel)
        found += exemplar_differences(self.exemplars, other.exemplars)
        return found


def _reply_difference(run: RunManifest, asked: RunManifest) -> str:
    if run.settings.reply != asked.settings.reply:
        return f"reply schema ({run.settings.reply} vs {asked.settings.reply})"
    return (f"reply schema {run.settings.reply} ({run.reply_schema_sha256[:12]}, grader {run.grader_version} vs "
            f"{asked.reply_schema_sha256[:12]}, grader {asked.grader_version}: the reply format has changed)")


def setting_differences(run: Settings, asked: Settings) -> list[str]:
    """`name: run's value vs asked value` for every setting that differs (the reply schema is named once)."""
    theirs, ours = run.model_dump(mode="json"), asked.model_dump(mode="json")
    return [f"setting {name}: {theirs.get(name)!r} vs {ours.get(name)!r}"
            for name in sorted(set(theirs) | set(ours)) if theirs.get(name) != ours.get(name) and name != "reply"]


def grader_version() -> str:
    try:
        return version("grader")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def rubric_yaml(rubric: Rubric) -> str:
    return yaml.safe_dump(rubric.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True,
                          width=100)


def build_manifest(rubric: Rubric, prompt: PromptTemplate, settings: Settings, backend: BackendInfo,
                   panel: PanelInfo | None = None) -> RunManifest:
    return RunManifest(rubric_id=rubric.id, rubric_hash=rubric.content_hash(), rubric_yaml=rubric_yaml(rubric),
                       prompt_version=prompt.version, prompt_sha256=prompt.sha256,
                       reply_schema_sha256=reply_schema_sha256(settings.reply), settings=settings,
                       backend=backend, grader_version=grader_version(),
                       created_at=datetime.now(UTC).replace(microsecond=0), panel=panel,
                       exemplars=prompt.exemplars.info() if prompt.exemplars is not None else None)


class RunMismatchError(GraderError):
    """A batch asked to resume a run with another rubric, prompt or settings."""


def check_resume(run: RunManifest, asked: RunManifest, where: str) -> None:
    """Refuse to add grades made differently to a run: name every difference and the two ways out."""
    differences = run.differences(asked)
    if differences:
        raise RunMismatchError(
            "this run was graded differently from what was asked (run's vs asked): " + "; ".join(differences),
            path=where, fix="grade with the run's own rubric, prompt and settings, or start a new run folder "
                            "(another --run, or --new-run)")
