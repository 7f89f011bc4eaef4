"""`ai_config/ai_config.yaml`: model names, temperatures, n, prompt knobs and prices, validated.

An unknown key, a value of the wrong type or out of range, a key written twice and a YAML
syntax error raise AIConfigError naming the key (or the file, line and column), so a typo
stops the service at start instead of silently changing its behaviour.

The original hint backend's file is accepted too (`AI_CONFIG_PATH` may point at it):

    program_generation_model: {name: gpt-4o-mini, temperature: 0.8, n_programs: 3}
    hint_generation_model: {name: gpt-4o, temperature: 0.3}

`name`, `temperature` and `n_programs` become `program_generation.model`, `.temperature`
and `.n`; `name` and `temperature` become `hint_generation.model` and `.temperature`,
checked as the original checked them (temperature 0 to 2, n_programs 1 to 20) and named
as written. The original's loader ignored every other key, so in a file of its shape any
key neither shape knows is reported (AIConfig.unused_keys, and a warning) rather than
refused. The two shapes may be mixed in one file (the original's plus `engine`, `pricing`,
...); setting one value in both is an error naming both keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

log = logging.getLogger(__name__)


class AIConfigError(ValueError):
    pass


def _bounded(default: float, high: float) -> Any:
    """A field whose value may not exceed `high` (the low bound comes with its type)."""
    return field(default=default, metadata={"max": high})


@dataclass(frozen=True)
class PhaseConfig:
    model: str = "gpt-4o-mini"
    temperature: float = _bounded(0.7, 2.0)  # what OpenAI-compatible APIs accept
    n: int = _bounded(1, 20)  # choices per call; 20 was the original's cap too
    max_tokens: int = 1000
    timeout_seconds: float = 60.0
    deadline_seconds: float = 150.0
    max_attempts: int = 6  # HTTP attempts per call, retries included (the deadline may stop sooner)
    # Ask for JSON (`response_format={"type": "json_object"}`), as the original did; false
    # for a provider that rejects the parameter (the prompts ask for JSON either way).
    json_output: bool = True


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
class ModelPrice:
    """What a model costs, per million tokens (both keys are required: no price is zero by default)."""

    prompt_per_million: float
    completion_per_million: float


@dataclass(frozen=True)
class PricingConfig:
    """The price table that turns tokens into money (`hint_core.llm.usage.cost`). A model
    that is not listed (nor its base name, for a dated snapshot) has an unknown cost."""

    currency: str = "USD"
    models: dict[str, ModelPrice] = field(default_factory=dict)


@dataclass(frozen=True)
class AIConfig:
    engine: Literal["auto", "openai", "offline"] = "auto"
    fallback: Literal["offline", "none"] = "offline"
    program_generation: ProgramPhaseConfig = ProgramPhaseConfig(temperature=0.8, n=3, max_tokens=2000)
    hint_generation: PhaseConfig = PhaseConfig(model="gpt-4o", temperature=0.3, max_tokens=800)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    pricing: PricingConfig = field(default_factory=PricingConfig)
    # Not a key of the file: the keys of an original-shaped file that nothing here uses.
    unused_keys: tuple[str, ...] = field(default=(), metadata={"internal": True})

    def use_llm(self, llm_configured: bool) -> bool:
        return self.engine == "openai" or (self.engine == "auto" and llm_configured)


# --- checking values ----------------------------------------------------------------------


def _number(value: Any, key: str, what: str, integer: bool, low: float, high: float | None) -> Any:
    wrong_type = isinstance(value, bool) or not isinstance(value, int if integer else int | float)
    if wrong_type or value < low or (high is not None and value > high):
        bound = f" at most {high:g}" if high is not None else ""
        raise AIConfigError(f"ai_config: '{key}' must be {what}{bound}, got {value!r}")
    return value if integer else float(value)


def _check_value(value: Any, hint: Any, key: str, base: Any, high: float | None = None) -> Any:
    if get_origin(hint) is Literal:
        if value not in get_args(hint):
            choices = ", ".join(repr(c) for c in get_args(hint))
            raise AIConfigError(f"ai_config: '{key}' must be one of {choices}, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise AIConfigError(f"ai_config: '{key}' must be true or false, got {value!r}")
        return value
    if hint is float:
        return _number(value, key, "a non-negative number", False, 0, high)
    if hint is int:
        return _number(value, key, "a positive integer", True, 1, high)
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise AIConfigError(f"ai_config: '{key}' must be a non-empty string, got {value!r}")
        return value
    if hint == (int | None):
        return None if value is None else _number(value, key, "a non-negative integer or null", True, 0, high)
    if hint == (str | None):
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise AIConfigError(f"ai_config: '{key}' must be a string or null, got {value!r}")
        return value
    if get_origin(hint) is dict:
        return _prices(value, key)
    if is_dataclass(hint):
        return _build(hint, value, key, base)
    raise AIConfigError(f"ai_config: '{key}' has an unsupported type")  # pragma: no cover


def _prices(data: Any, prefix: str) -> dict[str, ModelPrice]:
    """`pricing.models`: model name -> both prices, each required."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AIConfigError(f"ai_config: '{prefix}' must be a mapping of model names to prices")
    table = {}
    required = [f.name for f in fields(ModelPrice)]
    for model, price in data.items():
        key = f"{prefix}.{model}"
        if not isinstance(model, str) or not model.strip():
            raise AIConfigError(f"ai_config: '{key}': a model name must be a non-empty string")
        if not isinstance(price, dict):
            raise AIConfigError(f"ai_config: '{key}' must be a mapping with {' and '.join(required)}")
        for name in price:
            if name not in required:
                raise AIConfigError(f"ai_config: unknown key '{key}.{name}'")
        missing = [name for name in required if name not in price]
        if missing:
            raise AIConfigError(
                f"ai_config: '{key}.{missing[0]}' is missing (a model's price is never assumed)"
            )
        numbers = (_number(price[n], f"{key}.{n}", "a non-negative number", False, 0, None) for n in required)
        table[model] = ModelPrice(*numbers)
    return table


def _settable(cls: type) -> dict[str, Any]:
    """The fields of `cls` a file may set, by name."""
    return {f.name: f for f in fields(cls) if not f.metadata.get("internal")}


def _check_field(cls: type, name: str, value: Any, key: str, base: Any) -> Any:
    """`value` for the field `name` of `cls`, checked; errors name `key`."""
    return _check_value(value, get_type_hints(cls)[name], key, base, _settable(cls)[name].metadata.get("max"))


def _build(cls: type, data: Any, prefix: str, base: Any) -> Any:
    """A `cls` from `data`, keeping `base`'s values for the keys it does not give."""
    if data is None:
        return base
    if not isinstance(data, dict):
        raise AIConfigError(f"ai_config: '{prefix or 'top level'}' must be a mapping")
    settable = _settable(cls)
    values = {f.name: getattr(base, f.name) for f in fields(cls)}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if key not in settable:
            raise AIConfigError(f"ai_config: unknown key '{name}'")
        values[key] = _check_field(cls, key, value, name, values[key])
    return cls(**values)


# --- the original backend's shape ---------------------------------------------------------

# original section -> (our section, its class, {original key: our key})
_ORIGINAL = {
    "program_generation_model": ("program_generation", ProgramPhaseConfig,
                                 {"name": "model", "temperature": "temperature", "n_programs": "n"}),
    "hint_generation_model": ("hint_generation", PhaseConfig,
                              {"name": "model", "temperature": "temperature"}),
}


def _from_original(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`data` in our shape, and the keys nothing uses, for a file in the original's shape
    (or mixing both); any other file is returned as it is."""
    if not any(key in data for key in _ORIGINAL):
        return data, []
    ours = {key: value for key, value in data.items() if key not in _ORIGINAL}
    unused: list[str] = []
    for old, (section, cls, renames) in _ORIGINAL.items():
        given = data.get(old)
        if given is None:
            continue
        if not isinstance(given, dict):
            raise AIConfigError(f"ai_config: '{old}' must be a mapping")
        own = ours.get(section)
        if own is not None and not isinstance(own, dict):
            continue  # our own section is malformed: _build names it
        target = dict(own or {})
        for key, value in given.items():
            if key not in renames:
                unused.append(f"{old}.{key}")
                continue
            new = renames[key]
            if new in target:
                raise AIConfigError(
                    f"ai_config: '{old}.{key}' and '{section}.{new}' set the same value; keep one"
                )
            target[new] = _check_field(cls, new, value, f"{old}.{key}", None)
        ours[section] = target
    known = _settable(AIConfig)
    unused += [str(key) for key in ours if key not in known]
    return {key: value for key, value in ours.items() if key in known}, unused


# --- reading the file ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML keeps the last
    silently, so a second `model:` would quietly win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key '{key_node.value}' is written twice", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


def _yaml_error(path: Path, exc: yaml.YAMLError) -> AIConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    context = getattr(exc, "context", None)
    detail = f" ({context})" if context else ""
    return AIConfigError(f"ai_config: {where}: not valid YAML: {problem}{detail}")


def load_ai_config(path: Path) -> AIConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AIConfigError(f"ai_config: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AIConfigError(f"ai_config: cannot read {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise _yaml_error(Path(path), exc) from None
    unused: list[str] = []
    if isinstance(data, dict):
        data, unused = _from_original(data)
    config = _build(AIConfig, data, "", AIConfig())
    if unused:
        log.warning("ai_config: %s: key(s) of the original backend's format not used here: %s",
                    path, ", ".join(unused))
        config = replace(config, unused_keys=tuple(unused))
    return config
