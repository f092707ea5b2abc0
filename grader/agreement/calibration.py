"""Calibration: a per-criterion monotone mapping from the model's level to the human scale.

Fitted with scikit-learn's isotonic regression; judged on held-out folds grouped by candidate
(GroupKFold), so a candidate's two interviews never sit on both sides. The fitted mapping is
saved with the rubric and model it belongs to, and refuses to apply to another.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError, model_validator
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupKFold

from grader.errors import GraderError, validation_problems
from grader.grading.grades import CriterionGrade

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class CriterionMapping(BaseModel):
    """An isotonic mapping's knots: ascending model levels `x` and the human levels `y` (1..5) at them."""

    x: list[Finite] = Field(min_length=1)
    y: list[Annotated[Finite, Field(ge=1, le=5)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _knots(self) -> CriterionMapping:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} values and y {len(self.y)}: give one y for each x")
        if any(b < a for a, b in itertools.pairwise(self.x)):
            raise ValueError("x must be ascending")
        return self

    def apply(self, level: float) -> int:
        return int(np.clip(np.rint(np.interp(level, self.x, self.y)), 1, 5))


class Calibration(BaseModel):
    rubric_id: str
    rubric_hash: str
    model: str
    prompt_version: str
    input: Literal["stated", "expected"] = "stated"  # the model's level, or its expected level (level probs)
    mappings: dict[str, CriterionMapping]

    def apply(self, criterion_id: str, level: int | None) -> int | None:
        mapping = self.mappings.get(criterion_id)
        return level if level is None or mapping is None else mapping.apply(level)

    def calibrate(self, grade: CriterionGrade) -> CriterionGrade:
        """A counted grade with its level mapped (the model's own kept as `raw_level`); others unchanged."""
        mapping = self.mappings.get(grade.criterion_id)
        if not grade.counts or mapping is None:
            return grade
        x = grade.level if self.input == "stated" else (grade.level_probs.expected if grade.level_probs else None)
        if x is None:
            return grade.model_copy(update={"reason": "no expected level (level probabilities): not calibrated"})
        return grade.model_copy(update={"raw_level": grade.level, "level": mapping.apply(x)})

    def check(self, rubric_hash: str, model: str, level_probs: bool = False) -> None:
        if (rubric_hash, model) != (self.rubric_hash, self.model):
            raise GraderError(f"this calibration was fitted for rubric {self.rubric_hash} and model {self.model!r}, "
                              f"not rubric {rubric_hash} and model {model!r}", where="--calibration",
                              fix="fit a calibration on labelled data graded with this rubric and model")
        if self.input == "expected" and not level_probs:
            raise GraderError("this calibration maps expected levels, which need level probabilities",
                              where="--calibration", fix="grade with --level-probs, or fit with --input stated")

    def fitted_for(self) -> dict[str, str]:
        """What a score sheet records of it (`RunInfo.calibration`): the rubric hash, model and prompt version."""
        return self.model_dump(include={"rubric_hash", "model", "prompt_version"})

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            problems = "; ".join(validation_problems(exc.errors()))
            raise GraderError(f"not a valid calibration file ({problems})", path=path, where="--calibration",
                              fix="fit it again with grader calibrate (do not edit it by hand)") from None
        except (OSError, ValueError) as exc:
            raise GraderError(f"not a calibration file: {exc}", path=path, where="--calibration",
                              fix="give a calibration file fitted for this rubric and model") from None


def fit_calibration(pairs: pd.DataFrame, *, rubric_id: str, rubric_hash: str, model: str, prompt_version: str,
                    input_kind: Literal["stated", "expected"], min_pairs: int = 10) -> Calibration:
    """A mapping per criterion from `pairs` (criterion_id, x, gold); criteria with too few pairs are left out."""
    mappings = {str(criterion): fit_mapping(part["x"].to_numpy(float), part["gold"].to_numpy(float))
                for criterion, part in pairs.dropna(subset=["x"]).groupby("criterion_id") if len(part) >= min_pairs}
    if not mappings:
        raise GraderError(f"no criterion has {min_pairs} or more graded items with a gold level to fit on",
                          where="--run/--gold", fix="grade more labelled transcripts, or check the ids match")
    return Calibration(rubric_id=rubric_id, rubric_hash=rubric_hash, model=model, prompt_version=prompt_version,
                       input=input_kind, mappings=mappings)


def fit_mapping(model_levels: np.ndarray, gold_levels: np.ndarray) -> CriterionMapping:
    iso = IsotonicRegression(y_min=1, y_max=5, increasing=True, out_of_bounds="clip")
    iso.fit(model_levels, gold_levels)
    return CriterionMapping(x=[float(v) for v in iso.X_thresholds_], y=[float(v) for v in iso.y_thresholds_])


def held_out_predictions(model_levels: np.ndarray, gold_levels: np.ndarray, groups: np.ndarray,
                         n_splits: int = 5) -> np.ndarray:
    """Calibrated levels for every item, each predicted by a mapping fitted without its candidate."""
    predictions = np.empty(len(model_levels))
    folds = GroupKFold(n_splits=min(n_splits, len(np.unique(groups))))
    for train, test in folds.split(model_levels, gold_levels, groups):
        mapping = fit_mapping(model_levels[train], gold_levels[train])
        predictions[test] = [mapping.apply(v) for v in model_levels[test]]
    return predictions
