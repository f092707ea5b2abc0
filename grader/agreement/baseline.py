"""A transparent non-LLM baseline: TF-IDF of the candidate's words, ridge regression to the gold level.

Fitted and judged on the same folds as the calibration (grouped by candidate), so the report shows
what the LLM adds over word counts.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline

from grader.ingest.transcript import Transcript


def candidate_text(transcript: Transcript) -> str:
    return " ".join(t.text for t in transcript.candidate_turns())


def baseline_predictions(texts: list[str], gold_levels: np.ndarray, groups: np.ndarray,
                         n_splits: int = 5) -> np.ndarray:
    """Held-out scores on the 1..5 scale (not rounded) from TF-IDF (words and bigrams) + ridge, folds by candidate."""
    predictions = np.empty(len(texts))
    folds = GroupKFold(n_splits=min(n_splits, len(np.unique(groups))))
    data = np.asarray(texts, dtype=object)
    for train, test in folds.split(data, gold_levels, groups):
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), Ridge(alpha=1.0))
        model.fit(data[train], gold_levels[train])
        predictions[test] = np.clip(model.predict(data[test]), 1, 5)
    return predictions
