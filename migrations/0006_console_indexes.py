"""Indexes for the console's request list and dashboards (issue 15).

The list pages newest first by keyset over (created_at, id), optionally narrowed to one
problem or hint type, or to requests whose hint has an engine or an outcome; each filter
reads its page and its bounded count from an index instead of the whole table. The
partial index finds the offline fallbacks (a hint phase with an error) among all phases.
"""

from peewee import Database
from playhouse.migrate import SchemaMigrator

INDEXES = (
    ("request", ("created_at", "id")),
    ("request", ("problem_id", "created_at", "id")),
    ("request", ("hint_type", "created_at", "id")),
    ("hint", ("engine",)),
    ("hint", ("job_finished_successfully",)),
)
FALLBACKS = "hint_generation_phase_request_id_with_error"


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(*(migrator.add_index(table, columns, False) for table, columns in INDEXES))
    # Partial (SQLite and PostgreSQL both have them): only the few phases that failed.
    db.execute_sql(f"CREATE INDEX {FALLBACKS} ON hint_generation_phase (request_id) WHERE error IS NOT NULL")


def down(migrator: SchemaMigrator, db: Database) -> None:
    db.execute_sql(f"DROP INDEX {FALLBACKS}")
    migrator.migrate(
        *(migrator.drop_index(table, f"{table}_{'_'.join(columns)}") for table, columns in INDEXES)
    )
