"""Untrusted transcripts: prompt-injection findings and redaction of personal data.

    from grader.safety import Redactor, detect
    findings = detect((unit.id, unit.text) for unit in units)        # -> list[IntegrityFinding]
    redactor = Redactor.from_speakers({"Sam Rivera": "candidate", "Dana Lee": "interviewer"})
    redactor.prepare(lines); safe = [redactor.redact(line) for line in lines]
"""

from grader.safety.injection import DETECTOR_VERSION, IntegrityFinding, detect, scan
from grader.safety.pii import PiiKind, Span, find_all
from grader.safety.redact import Redactor
from grader.safety.rules import FindingKind

__all__ = ["DETECTOR_VERSION", "FindingKind", "IntegrityFinding", "PiiKind", "Redactor", "Span", "detect", "find_all",
           "scan"]
