"""`ai_config/ai_config.yaml`: model names, temperatures, n and prompt knobs, validated.

An unknown key or a value of the wrong type raises AIConfigError naming the key, so a
typo stops the service at start instead of silently changing its behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml


class AIConfigError(ValueError):
    pass


@dataclass(frozen=True)
class PhaseConfig:
    model: str = "gpt-4o-mini"
    temperature: float = 0.7
    n: int = 1
    max_tokens: int = 1000
    timeout_seconds: float = 60.0
    deadline_seconds: float = 150.0
    max_attempts: int = 6  # HTTP attempts per call, retries included (the deadline may stop sooner)


@dataclass(frozen=True)
class ProgramPhaseConfig(PhaseConfig):
    # A cheaper model asked first; the stronger `model` only when none of its programs passes.
    cheap_model: str | None = None
    # An identical (problem, normalized program, hint type) within this window reuses the
    # verified programs instead of calling the LLM again; 0 turns reuse off.
    reuse_window_seconds: float = 3600.0


@dataclass(frozen=True)
class PromptConfig:
    min_reflection_words: int = 3
    max_output_chars: int = 1500


@dataclass(frozen=True)
class PoolConfig:
    """The solution pool of known-correct programs (see hint_core/pool.py)."""

    candidates: int = 3  # pool entries offered per request: nearest (plan/debug) or fastest (optimize)
    # Skip the LLM program call for plan/debug when a pool entry is at most this many
    # tokens away from the student's program; null: always ask the LLM.
    skip_llm_when_distance_at_most: int | None = None


@dataclass(frozen=True)
class AIConfig:
    engine: Literal["auto", "openai", "offline"] = "auto"
    fallback: Literal["offline", "none"] = "offline"
    program_generation: ProgramPhaseConfig = ProgramPhaseConfig(temperature=0.8, n=3, max_tokens=2000)
    hint_generation: PhaseConfig = PhaseConfig(model="gpt-4o", temperature=0.3, max_tokens=800)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)

    def use_llm(self, llm_configured: bool) -> bool:
        return self.engine == "openai" or (self.engine == "auto" and llm_configured)


def _check_value(value: Any, hint: Any, key: str, base: Any) -> Any:
    if get_origin(hint) is Literal:
        if value not in get_args(hint):
            choices = ", ".join(repr(c) for c in get_args(hint))
            raise AIConfigError(f"ai_config: '{key}' must be one of {choices}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise AIConfigError(f"ai_config: '{key}' must be a non-negative number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AIConfigError(f"ai_config: '{key}' must be a positive integer, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise AIConfigError(f"ai_config: '{key}' must be a non-empty string, got {value!r}")
        return value
    if hint == (int | None):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise AIConfigError(f"ai_config: '{key}' must be a non-negative integer or null, got {value!r}")
        return value
    if hint == (str | None):
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise AIConfigError(f"ai_config: '{key}' must be a string or null, got {value!r}")
        return value
    if is_dataclass(hint):
        return _build(hint, value, key, base)
    raise AIConfigError(f"ai_config: '{key}' has an unsupported type")  # pragma: no cover


def _build(cls: type, data: Any, prefix: str, base: Any) -> Any:
    """A `cls` from `data`, keeping `base`'s values for the keys it does not give."""
    if data is None:
        return base
    if not isinstance(data, dict):
        raise AIConfigError(f"ai_config: '{prefix or 'top level'}' must be a mapping")
    hints = get_type_hints(cls)
    values = {f.name: getattr(base, f.name) for f in fields(cls)}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if key not in values:
            raise AIConfigError(f"ai_config: unknown key '{name}'")
        values[key] = _check_value(value, hints[key], name, values[key])
    return cls(**values)


def load_ai_config(path: Path) -> AIConfig:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AIConfigError(f"ai_config: file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise AIConfigError(f"ai_config: not valid YAML: {exc}") from None
    return _build(AIConfig, data, "", AIConfig())
