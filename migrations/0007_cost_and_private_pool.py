"""What each LLM phase cost in money, at the prices of the moment (issue 13), and a pool
without comments (issue 16): entries stored before are stripped of their comments and
docstrings and wait for re-verification, like entries of older tests."""
from peewee import CharField, FloatField, Model, TextField

from hint_core.pool import strip_comments

UNVERIFIED = "unverified-after-strip"


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('program_enhancement_phase', 'cost', FloatField(null=True)),
        migrator.add_column('hint_generation_phase', 'cost', FloatField(null=True)),
    )

    class SolutionPoolEntry(Model):
        program = TextField()
        source = CharField()
        tests_version = CharField()

        class Meta:
            database = db
            table_name = 'solution_pool_entry'

    for entry in SolutionPoolEntry.select().where(SolutionPoolEntry.source != 'reference'):
        stripped = strip_comments(entry.program)
        if stripped != entry.program:
            SolutionPoolEntry.update(program=stripped, tests_version=UNVERIFIED).where(
                SolutionPoolEntry.id == entry.id
            ).execute()


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('hint_generation_phase', 'cost'),
        migrator.drop_column('program_enhancement_phase', 'cost'),
    )
