"""Indexes for the console's request list and dashboards (issue 15).

The list pages newest first by keyset over (created_at, id), optionally narrowed to one
problem or hint type: each of these reads one page from an index instead of sorting
the whole table.
"""

from peewee import Database
from playhouse.migrate import SchemaMigrator

INDEXES = (
    ("request", ("created_at", "id")),
    ("request", ("problem_id", "created_at", "id")),
    ("request", ("hint_type", "created_at", "id")),
)


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(*(migrator.add_index(table, columns, False) for table, columns in INDEXES))


def down(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(
        *(migrator.drop_index(table, f"{table}_{'_'.join(columns)}") for table, columns in INDEXES)
    )
