"""The settings of a grading command, from four places in one order: flag > environment > config file > default.

- **Flags** (`--model`, `--seed`, ...) win over everything; a flag not given takes the next place's value.
- **Environment**: `GRADER_<NAME>` (e.g. `GRADER_MODEL`, `GRADER_CONCURRENCY`); the server also from
  `OPENAI_BASE_URL`, as the OpenAI client reads it. The key comes from `--api-key` or `OPENAI_API_KEY`
  only: a secret has no place in a file that may be committed.
- **Config file**: `grader.toml` in the current folder, or the file `--config` or `$GRADER_CONFIG` names
  (top-level keys named as the fields below, e.g. `model = "gpt-4.1-mini"`, `concurrency = 8`).
- **Defaults**: the values below.

    config = GraderConfig.load(seed=8)                      # flags given as keywords
    with Grader(config.rubric, base_url=config.base_url, model=config.model,
                options=config.grading_options()) as g: ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from grader.api.grading import DEFAULT_RUBRIC, GradingOptions
from grader.errors import GraderError, validation_problems
from grader.grading.exemplar_block import MAX_K
from grader.grading.panel import MAX_SAMPLES, PanelRule
from grader.grading.panel_file import load_panel_file, parse_judge
from grader.grading.prompts import DEFAULT_PROMPT
from grader.runs.batch import RunOptions

CONFIG_FILE = "grader.toml"
CONFIG_ENV = "GRADER_CONFIG"


class GraderConfig(BaseSettings):
    """What a grading command is set to; `load` reads it from flags, the environment, the config file and defaults."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", extra="forbid", frozen=True, populate_by_name=True)
    config_file: ClassVar[Path | None] = None

    base_url: str | None = Field(None, description="OpenAI-compatible server (none: the embedded model)",
                                 validation_alias=AliasChoices("base_url", "GRADER_BASE_URL", "OPENAI_BASE_URL"))
    model: str | None = Field(None, description="model name the server serves")
    rubric: str = Field(DEFAULT_RUBRIC, description="built-in rubric name or rubric YAML file")
    prompt: str = Field(DEFAULT_PROMPT, description="built-in prompt name or prompt template file")
    seed: int = Field(7, ge=0, le=2**31 - 1, description="sampling seed")
    temperature: float = Field(0.0, ge=0, le=2, allow_inf_nan=False, description="sampling temperature")
    reasks: int = Field(1, ge=0, le=5, description="re-asks after a reply that fails validation")
    max_tokens: int = Field(400, ge=16, description="completion tokens per call")
    level_probs: bool = Field(False, description="record each level's probability (token log-probabilities)")
    reply: Literal["full", "compact"] = Field("full", description="reply schema")
    redact: bool | None = Field(None, description="redact personal data before a request leaves the machine "
                                                  "(none: on unless the server is on loopback)")
    redact_orgs: bool = Field(False, description="with redaction, also replace organisations")
    datamark: bool = Field(False, description="mark the transcript's words as data in the prompt (spotlighting)")
    samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="independent samples per criterion "
                                                                        "(none: the panel file's, else 1)")
    judges: list[str] = Field(default_factory=list, description="a panel: judges as NAME=URL,MODEL (in "
                                                                "grader.toml a list of strings)")
    panel: str | None = Field(None, description="panel file (YAML): judges with weights, and optionally the rule, "
                                                "max_spread and samples")
    panel_rule: PanelRule | None = Field(None, description="how the judges' levels combine (none: the panel "
                                                           "file's, else median)")
    max_spread: int | None = Field(None, ge=0, le=4, description="a spread of the levels above this needs review "
                                                                 "(none: the panel file's, else 1)")
    exemplars: str | None = Field(None, description="exemplars file (`grader exemplars` writes it): reviewed grades "
                                                    "shown in every prompt as examples of the levels")
    exemplars_k: int | None = Field(None, ge=1, le=MAX_K, description="exemplars shown per criterion and level "
                                                                      "(none: 1)")
    exemplars_group_pattern: str | None = Field(None, description="regex for the candidate in a transcript id, whose "
                                                                  "own exemplars are never shown to them (none: the "
                                                                  "exemplars file's)")
    concurrency: int = Field(1, ge=1, le=256, description="transcripts graded at once (batch)")
    rpm: float | None = Field(None, gt=0, allow_inf_nan=False, description="requests-per-minute limit (batch)")
    tpm: float | None = Field(None, gt=0, allow_inf_nan=False, description="tokens-per-minute limit (batch)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        if cls.config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **flags: Any) -> GraderConfig:
        """The settings: `flags` given (None: not given), then the environment, the config file, the defaults."""
        path = config_file_path(config_file)
        given = {k: v for k, v in flags.items() if v is not None}
        reader = type(cls.__name__, (cls,), {"config_file": path})
        try:
            return cls.model_validate(reader(**given).model_dump())
        except ValidationError as exc:
            raise _config_error(exc, path) from None
        except ValueError as exc:  # a config file that is not TOML
            raise GraderError(f"not a readable config file ({' '.join(str(exc).split())[:200]})", path=path,
                              fix="write it as TOML: one `name = value` per line, e.g. model = \"gpt-4.1-mini\"") \
                from None

    def grading_options(self) -> GradingOptions:
        """What the API's `Grader` takes of these settings (the judges from `judges` or the panel file)."""
        judges = tuple(parse_judge(j) for j in self.judges)
        panel = load_panel_file(self.panel) if self.panel else None
        if panel is not None and judges:
            raise GraderError("both --judge and --panel name judges", where="--judge",
                              fix="give the judges one way: --judge NAME=URL,MODEL (repeated) or --panel FILE")
        if panel is not None:
            judges = tuple(panel.judges)

        def first(*values: Any) -> Any:
            return next((v for v in values if v is not None), None)

        return GradingOptions(seed=self.seed, temperature=self.temperature, reasks=self.reasks,
                              max_tokens=self.max_tokens, level_probs=self.level_probs, reply=self.reply,
                              redact=self.redact, redact_orgs=self.redact_orgs, datamark=self.datamark,
                              judges=judges,
                              samples=first(self.samples, panel and panel.samples, 1),
                              panel_rule=first(self.panel_rule, panel and panel.rule),
                              max_spread=first(self.max_spread, panel and panel.max_spread, 1),
                              exemplars=Path(self.exemplars) if self.exemplars else None,
                              exemplars_k=self.exemplars_k, exemplars_group_pattern=self.exemplars_group_pattern)

    @property
    def has_judges(self) -> bool:
        """Whether judges are named (then no one server is: each judge names its own)."""
        return bool(self.judges or self.panel)

    def run_options(self, **more: Any) -> RunOptions:
        """How a batch runs: the limits set here, and `more` (retry_failed, new_run, ...)."""
        return RunOptions(concurrency=self.concurrency, requests_per_minute=self.rpm, tokens_per_minute=self.tpm,
                          **more)


def config_file_path(given: str | Path | None) -> Path | None:
    """The config file to read: the one given (it must exist), else $GRADER_CONFIG, else ./grader.toml if there."""
    named = given or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise GraderError("no such config file", path=path, where="--config" if given else f"${CONFIG_ENV}",
                              fix=f"give a TOML file, or leave it out to read ./{CONFIG_FILE} when there is one")
        return path
    default = Path(CONFIG_FILE)
    return default if default.is_file() else None


def _config_error(exc: ValidationError, path: Path | None) -> GraderError:
    if any(e["loc"] and e["loc"][0] in ("api_key", "key") for e in exc.errors()):
        return GraderError("the API key is never read from a config file (a file may be committed or shared)",
                           path=path, fix="remove it from the file; set OPENAI_API_KEY or pass --api-key")
    problems = "; ".join(validation_problems(exc.errors(), top="settings", limit=20))
    places = f"the flags, GRADER_* environment variables or {path}" if path else "the flags or GRADER_* variables"
    return GraderError(f"a setting is not valid ({problems})", where=places,
                       fix="correct the value named; `grader COMMAND --help` lists each setting's range")
