"""The explicit lifecycle (issue 12): leases renewed by a heartbeat are released when
their work ends; whether the candidates are settled is derived from the stored phases
and verdicts, so the column that duplicated it goes."""
from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('step_claim', 'released_at', DateTimeField(null=True)),
        migrator.drop_column('request', 'enhancement_done_at'),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.add_column('request', 'enhancement_done_at', DateTimeField(null=True)),
        migrator.drop_column('step_claim', 'released_at'),
    )
