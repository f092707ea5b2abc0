"""Fixtures of the hostile-input tests: the fake server kit and one graded run, built once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..hostile_kit import GOOD_TRANSCRIPT, Kit, invoke, make_kit


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Iterator[Kit]:
    made = make_kit(tmp_path_factory.mktemp("hostile"))
    yield made
    made.server.shutdown()


@pytest.fixture(scope="module")
def run(kit) -> Path:
    """A graded run of three transcripts (t1..t3) against the tiny rubric, for gold, calibration and options."""
    folder = kit.folder / "graded"
    for n in (1, 2, 3):
        kit.write(f"inputs/t{n}.txt", GOOD_TRANSCRIPT.replace("a third", f"{n} in 3"))
    result = invoke("batch", kit.folder / "inputs", "--run", folder, *kit.grading)
    assert result.exit_code == 0, result.output
    return folder
