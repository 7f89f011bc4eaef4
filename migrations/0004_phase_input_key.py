"""Program-generation phases remember their question (problem, hint type, normalized
program), so an identical request within the reuse window skips the LLM (issue 4)."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('program_enhancement_phase', 'input_key', CharField(max_length=64, null=True)),
        migrator.add_index('program_enhancement_phase', ('input_key',), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index('program_enhancement_phase', 'program_enhancement_phase_input_key'),
        migrator.drop_column('program_enhancement_phase', 'input_key'),
    )
