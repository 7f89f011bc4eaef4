"""The solution pool: known-correct programs per problem and tests version (issue 5)."""
from peewee import CharField, DateTimeField, FloatField, Model, TextField


def up(migrator, db):
    class SolutionPoolEntry(Model):
        problem_id = CharField(max_length=200)
        tests_version = CharField(max_length=64)
        normalized_hash = CharField(max_length=64)
        program = TextField()
        tokens = TextField()
        run_time = FloatField()
        source = CharField(max_length=32)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'solution_pool_entry'
            indexes = ((('problem_id', 'tests_version', 'normalized_hash'), True),)
    db.create_tables([SolutionPoolEntry])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('solution_pool_entry'))
