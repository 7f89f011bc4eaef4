"""Gaps in a problem's tests (issue 14): programs that pass every test but disagree with
the reference solutions on a generated input, kept out of the pool."""
from peewee import CharField, DateTimeField, Model, TextField


def up(migrator, db):
    class TestGap(Model):
        problem_id = CharField(max_length=200)
        tests_version = CharField(max_length=64)
        program_hash = CharField(max_length=64)
        source = CharField(max_length=32)
        program = TextField()
        input = TextField()
        reference_output = TextField()
        program_output = TextField()
        first_seen = DateTimeField()

        class Meta:
            database = db
            table_name = 'test_gap'
            indexes = ((('problem_id', 'tests_version', 'program_hash'), True),)
    db.create_tables([TestGap])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('test_gap'))
