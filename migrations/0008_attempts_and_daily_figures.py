"""Operator actions (issue 13): `request_attempt` keeps the finished attempts of requests
re-run by an operator (maintenance.rerun); `daily_figure` keeps per-day counts, latency,
tokens and cost of the requests that retention deleted (maintenance.prune)."""
from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Request(Model):
        class Meta:
            database = db
            table_name = 'request'

    class RequestAttempt(Model):
        request = ForeignKeyField(Request, on_delete='CASCADE')
        attempt = IntegerField()
        job_finished_successfully = BooleanField(null=True)
        hint = TextField(null=True)
        explanation = TextField(null=True)
        engine = CharField(max_length=32, null=True)
        generation_error_message = TextField(null=True)
        summary = TextField(null=True)
        prompt_tokens = IntegerField(default=0)
        completion_tokens = IntegerField(default=0)
        cost = FloatField(null=True)
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        archived_at = DateTimeField()
        reason = TextField(null=True)
        class Meta:
            database = db
            table_name = 'request_attempt'
            indexes = ((('request', 'attempt'), True),)

    class DailyFigure(Model):
        day = DateField()
        problem_id = CharField(max_length=200)
        hint_type = CharField(max_length=16)
        engine = CharField(max_length=32)
        outcome = CharField(max_length=16)
        requests = IntegerField(default=0)
        latency_seconds = FloatField(default=0.0)
        prompt_tokens = BigIntegerField(default=0)
        completion_tokens = BigIntegerField(default=0)
        llm_calls = BigIntegerField(default=0)
        cost = FloatField(default=0.0)
        unpriced_phases = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'daily_figure'
            indexes = ((('day', 'problem_id', 'hint_type', 'engine', 'outcome'), True),)

    db.create_tables([RequestAttempt, DailyFigure])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('daily_figure'), migrator.drop_table('request_attempt'))
