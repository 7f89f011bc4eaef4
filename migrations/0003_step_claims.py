"""Step claims: who is doing a step's costly work right now (issue 6, idempotent steps)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class Request(Model):
        class Meta:
            database = db
            table_name = 'request'

    class StepClaim(Model):
        request = ForeignKeyField(Request, on_delete='CASCADE')
        step = CharField(max_length=64)
        attempt = IntegerField(default=1)
        holder = CharField(max_length=200)
        claimed_at = DateTimeField()
        expires_at = DateTimeField()
        takeovers = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'step_claim'
            indexes = ((('request', 'step', 'attempt'), True),)
    db.create_tables([StepClaim])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('step_claim'))
