"""Cost: token accounting turned into money with a price table (per model, per million tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader import yamlio
from grader.errors import GraderError, validation_problems
from grader.grading.grades import Usage

MAX_PRICE = 10_000.0  # USD per million tokens: 10x the dearest list price there is
# a price users write: finite, from 0 to MAX_PRICE, never a boolean or a string
Usd = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_PRICE)]


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    input: Usd = Field(description="USD per million prompt tokens")
    cached_input: Usd | None = Field(None, description="USD per million cached prompt tokens")
    output: Usd = Field(description="USD per million completion tokens")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    as_of: str = ""
    batch_discount: float = Field(0.5, strict=True, allow_inf_nan=False, ge=0, le=1,
                                  description="share of the price paid through the Batch API")
    models: dict[str, Price]

    def has_price(self, model: str) -> bool:
        """A price is listed for `model`; the cost of a model without one is unknown (None), never 0."""
        return model in self.models

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> float | None:
        """USD for this usage, or None when the model has no price (never a made-up zero)."""
        price = self.models.get(model)
        if price is None:
            return None
        cached = usage.cached_prompt_tokens
        cached_rate = price.cached_input if price.cached_input is not None else price.input
        total = ((usage.prompt_tokens - cached) * price.input + cached * cached_rate
                 + usage.completion_tokens * price.output) / 1_000_000
        return total * (self.batch_discount if batch else 1.0)


# Public list prices of a few hosted models; pass --prices FILE for yours (same shape, YAML). The embedded
# model has none: it runs on this machine, billed by no one per token, and a listed 0 would print its cost as
# "$0.0000" as if measured; its cost is shown as n/a (give it a price with --prices to count one).
DEFAULT_PRICES = PriceTable(as_of="2026-11", models={
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, cached_input=0.025, output=0.40),
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
})


PRICES_FIX = (f"give YAML: models: {{NAME: {{input: USD/1M, cached_input: USD/1M, output: USD/1M}}}}, each price a "
              f"number from 0 to {MAX_PRICE:,.0f}")


def load_prices(path: Path | None) -> PriceTable:
    if path is None:
        return DEFAULT_PRICES
    try:
        return PriceTable.model_validate(yamlio.load(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GraderError(f"cannot read the price table: {' '.join(str(exc).split())}", path=path, where="--prices",
                          fix=PRICES_FIX) from None
    except ValidationError as exc:
        problems = "; ".join(validation_problems(exc.errors(), limit=20))
        raise GraderError(f"not a price table ({problems})", path=path, where="--prices", fix=PRICES_FIX) from None
