"""The database models: the source of truth for every request and its audit trail.

Models are declared once against a `DatabaseProxy`; `runtime.build()` binds it at
start-up (SQLite for the embedded mode, pooled PostgreSQL in production; see
database.py). Schema changes ship as numbered files in `migrations/`, applied by
`python -m scripts.migrate`.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Any

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from hint_core.enums import Engine, HintType, Source
from hint_core.lifecycle import Stage, Step

db = DatabaseProxy()


def utcnow() -> dt.datetime:
    """Naive UTC, the one timestamp convention of this schema."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JSONField(TextField):
    """JSON kept as text, so the same schema works on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class EnumField(CharField):
    """A string enum stored as its plain value (so the column reads the same in SQL)."""

    def __init__(self, enum: type[StrEnum], **kwargs: Any) -> None:
        self.enum = enum
        super().__init__(**kwargs)

    def db_value(self, value: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def python_value(self, value: str | None) -> StrEnum | None:
        return None if value is None else self.enum(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Request(BaseModel):
    """One hint request from orchestration, with the student's run once it is done."""

    request_id = BigIntegerField(unique=True)  # orchestration's id
    problem_id = CharField(max_length=200, index=True)
    hint_type = EnumField(HintType, max_length=16)
    student_program = TextField()
    student_notebook = JSONField(null=True)
    payload_hash = CharField(max_length=64)  # tells a repeated call from a conflicting one
    enqueued_at = DateTimeField(null=True)  # first steps published to the broker
    created_at = DateTimeField(default=utcnow, index=True)
    updated_at = DateTimeField(default=utcnow)
    deadline_at = DateTimeField()
    reflection_deadline_at = DateTimeField()
    # Student run (step 1); null until stored.
    student_run = JSONField(null=True)
    student_correct = BooleanField(null=True)
    student_run_at = DateTimeField(null=True)
    # PENDING -> HINT_CLAIMED (the evidence is complete) -> FINISHED (Hint stored);
    # hint_core/lifecycle.py decides what a request needs next from these columns.
    stage = EnumField(Stage, max_length=16, default=Stage.PENDING, index=True)
    hint_claimed_at = DateTimeField(null=True)


class Reflection(BaseModel):
    request = ForeignKeyField(Request, backref="reflections", unique=True, on_delete="CASCADE")
    reflection_question = TextField()
    reflection_answer = TextField()
    payload_hash = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)


class ProgramEnhancementPhase(BaseModel):
    """One call for candidate programs (LLM or pool), with what was asked and answered."""

    request = ForeignKeyField(Request, backref="enhancement_phases", on_delete="CASCADE")
    attempt = IntegerField(default=1)  # a cascade escalates with attempt 2
    engine = EnumField(Engine, max_length=32)
    model = CharField(max_length=200, null=True)
    temperature = FloatField(null=True)
    n = IntegerField(null=True)
    prompt = JSONField(null=True)  # the messages sent
    response = JSONField(null=True)  # the whole response(s)
    prompt_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    llm_calls = IntegerField(default=0)
    waiting_seconds = FloatField(default=0.0)
    cost = FloatField(null=True)  # money at the prices of the moment (ai_config `pricing`); null: unknown
    error = TextField(null=True)
    # The question asked (problem, hint type, normalized program): an identical one within
    # the reuse window gets this phase's verified programs instead of a new LLM call.
    input_key = CharField(max_length=64, null=True, index=True)
    created_at = DateTimeField(default=utcnow)
    completed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("request", "attempt"), True),)


class EnhancedProgram(BaseModel):
    """A candidate program and, once run, its verdict."""

    phase = ForeignKeyField(ProgramEnhancementPhase, backref="programs", on_delete="CASCADE")
    request = ForeignKeyField(Request, backref="enhanced_programs", on_delete="CASCADE")
    index = IntegerField()
    source = EnumField(Source, max_length=32)
    program = TextField(null=True)  # null when the answer could not be parsed
    invalid_reason = TextField(null=True)
    evaluated_at = DateTimeField(null=True)
    correct = BooleanField(null=True)
    run_result = JSONField(null=True)
    run_time = FloatField(null=True)
    edit_distance = IntegerField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("phase", "index"), True),
            (("request", "evaluated_at"), False),
        )


class HintGenerationPhase(BaseModel):
    """One attempt at writing the hint, with its prompt and whole answer."""

    request = ForeignKeyField(Request, backref="hint_phases", on_delete="CASCADE")
    attempt = IntegerField(default=1)
    engine = EnumField(Engine, max_length=32)
    model = CharField(max_length=200, null=True)
    temperature = FloatField(null=True)
    selected_program = ForeignKeyField(EnhancedProgram, null=True, on_delete="SET NULL")
    prompt = JSONField(null=True)
    response = JSONField(null=True)
    explanation = TextField(null=True)
    hint = TextField(null=True)
    prompt_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    llm_calls = IntegerField(default=0)
    waiting_seconds = FloatField(default=0.0)
    cost = FloatField(null=True)  # money at the prices of the moment (ai_config `pricing`); null: unknown
    notes = JSONField(null=True)  # e.g. which guards fired
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    completed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("request", "attempt"), True),)


class Hint(BaseModel):
    """The one final answer of a request: a hint, or a failure that says why."""

    request = ForeignKeyField(Request, backref="hints", unique=True, on_delete="CASCADE")
    hint = TextField(null=True)
    explanation = TextField(null=True)
    engine = EnumField(Engine, max_length=32, null=True)
    job_finished_successfully = BooleanField()
    generation_error_message = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    reported_at = DateTimeField(null=True, index=True)
    report_attempts = IntegerField(default=0)


class StepClaim(BaseModel):
    """A lease on a step's costly work (an LLM call, the callback): who is doing it now.

    A step takes the lease before starting, so a second delivery of the same message
    waits instead of paying for the work twice. The holder's process renews it every few
    seconds while alive (hint_actors/leases.py), so a lease past `expires_at` belongs to
    a worker that died, and another delivery takes it over within seconds (`takeovers`
    counts how often). Finished or failed work releases it (`released_at`); the row stays
    as a record.
    """

    request = ForeignKeyField(Request, backref="claims", on_delete="CASCADE")
    step = EnumField(Step, max_length=64)
    attempt = IntegerField(default=1)
    holder = CharField(max_length=200)  # host:pid:thread of the worker doing the work
    claimed_at = DateTimeField()
    expires_at = DateTimeField()
    takeovers = IntegerField(default=0)
    released_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("request", "step", "attempt"), True),)


class SweepLease(BaseModel):
    """Which worker process runs the periodic sweep right now (one at a time)."""

    name = CharField(max_length=64, unique=True)
    holder = CharField(max_length=200)
    expires_at = DateTimeField()


class SolutionPoolEntry(BaseModel):
    """A program that passed every test of a problem, kept to build later hints on.

    Tied to the tests it passed: entries of an older `tests_version` are never used as
    they are, only offered again for re-verification (see `hint_core/pool.py`).
    """

    problem_id = CharField(max_length=200)
    tests_version = CharField(max_length=64)  # Problem.tests_version when it was verified
    normalized_hash = CharField(max_length=64)  # pool.dedup_key: same program up to names and layout
    program = TextField()
    tokens = JSONField()  # pool.canonical_tokens, so retrieval does not re-tokenize
    run_time = FloatField()  # pool.work_seconds of the verifying run
    source = EnumField(Source, max_length=32)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("problem_id", "tests_version", "normalized_hash"), True),)


class RequestAttempt(BaseModel):
    """A finished attempt of a request that an operator re-ran (maintenance.rerun).

    The re-run deletes the attempt's phases, candidates and hint so the pipeline starts
    afresh; what they said (outcome, hint, candidates and their verdicts, LLM usage) is
    kept here, so the trace still shows every attempt.
    """

    request = ForeignKeyField(Request, backref="attempts", on_delete="CASCADE")
    attempt = IntegerField()  # 1: the request's first run
    job_finished_successfully = BooleanField(null=True)
    hint = TextField(null=True)
    explanation = TextField(null=True)
    engine = EnumField(Engine, max_length=32, null=True)
    generation_error_message = TextField(null=True)
    summary = JSONField(null=True)  # candidates, their run results, phases, LLM usage
    prompt_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    cost = FloatField(null=True)
    started_at = DateTimeField()  # the attempt's start (the request's creation, or the re-run before)
    finished_at = DateTimeField(null=True)  # its hint's time
    archived_at = DateTimeField(default=utcnow)  # the re-run that replaced it
    reason = TextField(null=True)  # what the operator said

    class Meta:
        indexes = ((("request", "attempt"), True),)


class Outcome(StrEnum):
    HINT = "hint"  # the request ended with a hint
    FAILED = "failed"  # ... with a failure


class DailyFigure(BaseModel):
    """Counts and sums per day of the requests that retention deleted (maintenance.prune),
    so cost reports and dashboards keep their history. One row per day, problem, hint
    type, engine and outcome; a later prune of the same day adds to it."""

    day = DateField()  # the requests' creation day (UTC)
    problem_id = CharField(max_length=200)
    hint_type = EnumField(HintType, max_length=16)
    engine = CharField(max_length=32)  # Engine value, or "-" when the hint has none (a unique key cannot hold NULL)
    outcome = EnumField(Outcome, max_length=16)
    requests = IntegerField(default=0)
    latency_seconds = FloatField(default=0.0)  # sum of creation to final hint
    prompt_tokens = BigIntegerField(default=0)
    completion_tokens = BigIntegerField(default=0)
    llm_calls = BigIntegerField(default=0)
    cost = FloatField(default=0.0)  # money of the phases with a known price
    unpriced_phases = IntegerField(default=0)  # phases whose model had no price (cost unknown)

    class Meta:
        indexes = ((("day", "problem_id", "hint_type", "engine", "outcome"), True),)


class TestGap(BaseModel):
    """A program that passes every test of a problem but disagrees with its reference
    solutions on a generated input (hint_core/differential.py): kept out of the pool, and
    shown to instructors as a likely missing test (`python -m scripts.check_problems`)."""

    problem_id = CharField(max_length=200)
    tests_version = CharField(max_length=64)
    program_hash = CharField(max_length=64)  # pool.dedup_key of the program
    source = EnumField(Source, max_length=32)
    program = TextField()  # without comments, as the pool would have held it
    input = TextField()  # the call: factorial(0)
    reference_output = TextField()  # repr of what the reference solutions return
    program_output = TextField()  # what the program did: "returned 0", "raised ..."
    first_seen = DateTimeField(default=utcnow)
    __test__ = False  # not a pytest test class, despite its name

    class Meta:
        indexes = ((("problem_id", "tests_version", "program_hash"), True),)


ALL_MODELS = [
    Request, Reflection, ProgramEnhancementPhase, EnhancedProgram, HintGenerationPhase, Hint, StepClaim, SweepLease,
    SolutionPoolEntry, RequestAttempt, DailyFigure, TestGap,
]
