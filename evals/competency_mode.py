"""Benchmark mode (c): one call per competency that grades all its criteria at once.

Not the product's default (a criterion per call keeps each grade independent and re-askable);
kept here so the batch benchmark can measure what it would save.
"""

from __future__ import annotations

from typing import Literal

import instructor
from pydantic import BaseModel, Field

from grader.grading.grades import CriterionGrade, GradeStatus, Settings
from grader.grading.prompts import PromptTemplate, compiled, template_variables
from grader.grading.reply import CitedUnit, FlagUnits, GradeReply
from grader.grading.verify import grade_from_reply
from grader.ingest.chunking import Chunk
from grader.ingest.rubric import Competency, Rubric
from grader.ingest.transcript import Transcript


class CriterionItem(BaseModel):
    criterion: int = Field(description="number of the criterion graded, as listed")
    evidence: list[CitedUnit] = Field(max_length=3)
    red_flags: dict[str, FlagUnits] = Field(max_length=2)
    rationale: str = Field(max_length=160)
    level: Literal[1, 2, 3, 4, 5, "insufficient_evidence"]


class CompetencyReply(BaseModel):
    grades: list[CriterionItem] = Field(min_length=1, max_length=5)


USER = """Competency: {{ competency.name }}
{% for criterion in competency.criteria %}
Criterion {{ loop.index }}: {{ criterion.name }}
{% for level, anchor in criterion.levels.items() -%}
{{ level }}: {{ anchor }}
{% endfor %}{% endfor %}
Red flags of this competency:
{% for flag_id, flag in red_flags -%}
{{ flag_id }}: {{ flag }}
{% endfor %}
Grade every criterion above (1 to {{ competency.criteria | length }}) now, one entry each."""


def grade_competency(client: instructor.Instructor, prompt: PromptTemplate, rubric: Rubric, competency: Competency,
                     transcript: Transcript, chunk: Chunk, settings: Settings) -> list[CriterionGrade]:
    variables = template_variables(rubric, competency, chunk)
    messages = [{"role": "system", "content": compiled(prompt.system).render(variables).strip()},
                {"role": "user", "content": compiled(USER).render(variables).strip()}]
    reply = client.chat.completions.create(model=settings.model, messages=messages, response_model=CompetencyReply,
                                           max_retries=0, temperature=settings.temperature, seed=settings.seed,
                                           max_tokens=settings.max_tokens * len(competency.criteria))
    by_index = {item.criterion: item for item in reply.grades}
    grades = []
    for i, criterion in enumerate(competency.criteria, start=1):
        base = CriterionGrade(competency_id=competency.id, criterion_id=criterion.id, status=GradeStatus.unscored,
                              model=settings.model, prompt_version="grade-competency/bench")
        item = by_index.get(i)
        if item is None:
            grades.append(base.model_copy(update={"reason": "the reply did not grade this criterion"}))
            continue
        single = GradeReply.model_validate(item.model_dump(exclude={"criterion"}), context={"strict": False})
        grades.append(grade_from_reply(single, base, transcript, competency, frozenset(chunk.citable_ids())))
    return grades
