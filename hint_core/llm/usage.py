"""What the LLM calls of one phase cost: tokens, HTTP calls, waiting time and money.

The one place that knows it. `Usage` adds up the calls of a phase (failed ones included)
as the client makes them, `Usage.columns()` is what a phase row stores, `cost()` turns
tokens into money with the price table of `ai_config.yaml`, and `usage_report()` sums
stored phase rows per phase and in total for the trace and the cost report.

Money: tokens x price per million, rounded to a millionth of the currency unit. A phase
that used no tokens cost nothing; one whose model has no price has an unknown cost
(None), never zero, and so has every total it is part of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hint_core.ai_config import ModelPrice, PricingConfig

# The cost columns of a stored phase row (program_enhancement_phase, hint_generation_phase).
COLUMNS = ("prompt_tokens", "completion_tokens", "llm_calls", "waiting_seconds")


def price_of(pricing: PricingConfig, model: str | None) -> ModelPrice | None:
    """The price of `model`: its own entry, else that of the longest listed name it extends
    with a dash (a dated snapshot such as gpt-4o-2024-08-06 of gpt-4o), else None."""
    if not model:
        return None
    if model in pricing.models:
        return pricing.models[model]
    bases = [name for name in pricing.models if model.startswith(name + "-")]
    return pricing.models[max(bases, key=len)] if bases else None


def cost(
    pricing: PricingConfig, model: str | None, prompt_tokens: int, completion_tokens: int
) -> float | None:
    """What `prompt_tokens` + `completion_tokens` of `model` cost in `pricing.currency`;
    0 when no token was used, None when the model has no price."""
    if not prompt_tokens and not completion_tokens:
        return 0.0
    price = price_of(pricing, model)
    if price is None:
        return None
    money = prompt_tokens * price.prompt_per_million + completion_tokens * price.completion_per_million
    return round(money / 1_000_000, 6)


@dataclass
class Usage:
    """What the LLM calls of one phase cost, failed calls included, for the audit trail."""

    model: str | None = None  # as the endpoint named it in its answer
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0  # HTTP attempts, retries and failed ones included
    waiting_seconds: float = 0.0
    responses: list[dict[str, Any]] = field(default_factory=list)  # the whole responses

    def add(self, other: Usage) -> None:
        """Add the calls of `other` (one more call or reply of the same phase)."""
        self.model = other.model or self.model
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.waiting_seconds += other.waiting_seconds
        self.responses.extend(other.responses)

    def add_failure(self, calls: int, seconds: float) -> None:
        """A call that gave up after `calls` attempts and `seconds` of waiting."""
        self.calls += calls
        self.waiting_seconds += seconds

    def cost(self, pricing: PricingConfig) -> float | None:
        return cost(pricing, self.model, self.prompt_tokens, self.completion_tokens)

    def columns(self) -> dict[str, Any]:
        """The stored cost columns of a phase row (COLUMNS), with the model."""
        return {
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "llm_calls": self.calls,
            "waiting_seconds": self.waiting_seconds,
        }

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> Usage:
        """The usage a stored phase row records."""
        return cls(
            model=row.get("model"), prompt_tokens=int(row.get("prompt_tokens") or 0),
            completion_tokens=int(row.get("completion_tokens") or 0), calls=int(row.get("llm_calls") or 0),
            waiting_seconds=float(row.get("waiting_seconds") or 0.0),
        )


def _sum_costs(costs: Iterable[float | None]) -> float | None:
    total = 0.0
    for value in costs:
        if value is None:
            return None
        total += value
    return round(total, 6)


def usage_report(phases: Iterable[tuple[str, Mapping[str, Any]]], pricing: PricingConfig) -> dict[str, Any]:
    """Per phase and in total: tokens, calls, waiting seconds and cost, from stored phase
    rows given as (phase name, row) pairs. A row that stored its `cost` keeps it (the
    price when the call was made); others are priced with `pricing`."""
    lines = []
    for name, row in phases:
        usage = Usage.from_columns(row)
        stored = row.get("cost")
        lines.append({
            "phase": name, "attempt": row.get("attempt"), "engine": row.get("engine"), "model": usage.model,
            **{key: usage.columns()[key] for key in COLUMNS},
            "cost": stored if stored is not None else usage.cost(pricing),
        })
    total: dict[str, Any] = {key: sum(line[key] for line in lines) for key in COLUMNS}
    total["waiting_seconds"] = round(total["waiting_seconds"], 3)
    total["cost"] = _sum_costs(line["cost"] for line in lines)
    return {"phases": lines, "total": total, "currency": pricing.currency}
