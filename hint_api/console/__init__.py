"""The instructor and researcher console under /console/ (docs/console.md).

`init_console(app, settings)` registers the pages on an application; everything the
console needs comes from `settings` (HINT_CONSOLE_TOKENS and its two keys). The console
reads the models directly (queries.py) and imports nothing of the worker side.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from hint_api.console.auth import Sessions
from settings import Settings

CONSOLE_BLUEPRINT = "console"
EXTENSION = "hint_console"


@dataclass(frozen=True)
class ConsoleConfig:
    tokens: tuple[str, ...]  # empty: the console is closed
    sessions: Sessions
    pseudonym_key: str | None

    @property
    def open(self) -> bool:
        return bool(self.tokens)


def init_console(app: Flask, settings: Settings) -> None:
    """Serve the console on `app`, with the credentials and keys of `settings`."""
    from hint_api.console.views import bp

    app.extensions[EXTENSION] = ConsoleConfig(
        tokens=settings.console_tokens,
        sessions=Sessions(settings.console_secret_key, settings.console_tokens),
        pseudonym_key=settings.console_pseudonym_key,
    )
    app.register_blueprint(bp)


__all__ = ["CONSOLE_BLUEPRINT", "ConsoleConfig", "init_console"]
