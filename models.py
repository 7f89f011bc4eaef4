"""The database models: the source of truth for every request and its audit trail.

Models are declared once against a `DatabaseProxy`; `connect_database()` binds it at
start-up (SQLite for the embedded mode, pooled PostgreSQL in production). Schema changes
ship as numbered files in `migrations/`, applied by `python -m scripts.migrate`.
"""

from __future__ import annotations

import datetime as dt
import json
import select
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlparse

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    InterfaceError,
    Model,
    OperationalError,
    SqliteDatabase,
    TextField,
)
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase

db = DatabaseProxy()

HINT_TYPES = ("plan", "debug", "optimize")


def utcnow() -> dt.datetime:
    """Naive UTC, the one timestamp convention of this schema."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JSONField(TextField):
    """JSON kept as text, so the same schema works on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Request(BaseModel):
    """One hint request from orchestration, with the student's run once it is done."""

    request_id = BigIntegerField(unique=True)  # orchestration's id
    problem_id = CharField(max_length=200, index=True)
    hint_type = CharField(max_length=16)
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
    # Enhancement phase(s) finished: no more candidates will be added.
    enhancement_done_at = DateTimeField(null=True)
    # "pending" -> "hint_claimed" (the barrier) -> "finished" (Hint stored).
    stage = CharField(max_length=16, default="pending", index=True)
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
    engine = CharField(max_length=32)  # "openai", "offline", "cache"
    model = CharField(max_length=200, null=True)
    temperature = FloatField(null=True)
    n = IntegerField(null=True)
    prompt = JSONField(null=True)  # the messages sent
    response = JSONField(null=True)  # the whole response(s)
    prompt_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    llm_calls = IntegerField(default=0)
    waiting_seconds = FloatField(default=0.0)
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
    source = CharField(max_length=32)  # "llm", "reference", "pool"
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
    engine = CharField(max_length=32)  # "openai" or "offline"
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
    engine = CharField(max_length=32, null=True)
    job_finished_successfully = BooleanField()
    generation_error_message = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    reported_at = DateTimeField(null=True, index=True)
    report_attempts = IntegerField(default=0)


class StepClaim(BaseModel):
    """Who is doing a step's costly work (an LLM call, the callback) right now.

    A step claims its work before starting it, so a second delivery of the same message
    leaves work in progress alone instead of paying for it twice. A claim past
    `expires_at` belongs to a worker that died; another may take it over (`takeovers`
    counts how often). A step that fails releases its claim so its retry can run.
    """

    request = ForeignKeyField(Request, backref="claims", on_delete="CASCADE")
    step = CharField(max_length=64)
    attempt = IntegerField(default=1)
    holder = CharField(max_length=200)  # host:pid:thread of the worker doing the work
    claimed_at = DateTimeField()
    expires_at = DateTimeField()
    takeovers = IntegerField(default=0)

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
    source = CharField(max_length=32)  # "reference", "llm", "student", "pool"
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("problem_id", "tests_version", "normalized_hash"), True),)


ALL_MODELS = [
    Request, Reflection, ProgramEnhancementPhase, EnhancedProgram, HintGenerationPhase, Hint, StepClaim, SweepLease,
    SolutionPoolEntry,
]


def _server_hung_up(conn: Any) -> bool:
    """True when an idle connection's socket has something to read: a live idle
    connection has nothing, a server that went away (restart, terminated backend) has
    left its goodbye message or end-of-file there. A local syscall, no round trip."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


class _PooledPostgres(PooledPostgresqlDatabase):
    """A connection pool that checks a connection with a round trip only after it sat idle.

    peewee checks every checkout with `SELECT 1`, and does so holding the pool's lock:
    with connections released around every LLM call and program run, that was about 26
    round trips per request, one thread at a time per process. A connection returned
    moments ago is only checked locally (closed, broken, or hung up on by the server);
    one idle for longer still gets the round trip.
    """

    IDLE_CHECK_SECONDS = 2.0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}  # connection key -> when it came back

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        with self._pool_lock:
            self._returned_at[self.conn_key(conn)] = time.monotonic()
            super()._close(conn, close_conn)

    def _close_raw(self, conn: Any) -> None:
        with self._pool_lock:
            self._returned_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.pop(self.conn_key(conn), None)
        if returned is not None and time.monotonic() - returned < self.IDLE_CHECK_SECONDS:
            if conn.closed or self._adapter.txn_status(conn) == self._adapter.txn_unknown:
                return True
            return _server_hung_up(conn)
        return super()._is_closed(conn)


def make_database(url: str, max_connections: int = 8):
    """A peewee database for a URL: `sqlite:///path` or `postgresql://...` (pooled)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path[1:]  # sqlite:///relative.db, sqlite:////absolute.db
        # WAL lets the API and worker threads read while one writes.
        return SqliteDatabase(
            path or ":memory:",
            pragmas={"journal_mode": "wal", "busy_timeout": 10000, "foreign_keys": 1, "synchronous": "normal"},
            check_same_thread=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        options = dict(parse_qsl(parsed.query))
        return _PooledPostgres(
            parsed.path.lstrip("/"),
            user=parsed.username,
            password=parsed.password,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=30,  # wait this long for a free pooled connection instead of failing
            connect_timeout=int(options.get("connect_timeout", 10)),
        )
    raise ValueError(f"unsupported database URL scheme '{parsed.scheme}'")


def connect_database(url: str, max_connections: int = 8):
    """Bind the proxy to the database named by `url` and return it."""
    database = make_database(url, max_connections)
    db.initialize(database)
    return database


def release_connection() -> None:
    """Give this thread's pooled connection back while it waits on something slow that
    needs no database (an LLM call, a program run); the next query takes one again.

    Worker threads then hold connections only while they talk to the database, so a pool
    smaller than the thread count is shared instead of exhausted.
    """
    if isinstance(db.obj, PooledDatabase) and not db.is_closed() and not db.in_transaction():
        db.close()


def through_outage(write: Callable[[], Any], patience: float = 30.0) -> Any:
    """Run `write`, waiting out a short database outage (a restart) for up to `patience` s.

    For a write that must not be lost once something outside happened, such as
    recording that orchestration received the callback: failing would make the retry
    post it again.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            db.close()  # the connection died with the server; the next try takes a fresh one
            time.sleep(1.0)


def write_transaction():  # noqa: ANN201 - a peewee transaction context
    """A transaction for writes. On SQLite it takes the write lock up front: upgrading a
    read lock inside a transaction fails at once with "database is locked" under WAL."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
