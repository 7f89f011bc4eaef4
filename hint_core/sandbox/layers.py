"""The sandbox's isolation layers: their names, in one place, and how an operator names them.

Standard library only and no imports from the project: the settings parse operator
variables with it, and the fork server (``python -I -S server.py``) imports it by file.
"""

from __future__ import annotations

# The order in which the child applies them is in server.py; this is only the vocabulary.
ALL_LAYERS: tuple[str, ...] = (
    "process", "rlimits", "no_new_privs", "landlock", "seccomp", "uid", "pidns", "netns", "ipcns", "mountns",
)


def parse_layers(text: str | None, variable: str) -> frozenset[str]:
    """Layer names from an operator's comma-separated list (``"landlock, seccomp"`` or
    ``"all"``; case and spaces do not matter; empty or None is no layer).

    Raises ValueError naming `variable` (e.g. ``SANDBOX_REQUIRE``) and the unknown names.
    """
    names = {name.strip().lower() for name in (text or "").split(",") if name.strip()}
    if "all" in names:
        names = (names - {"all"}) | set(ALL_LAYERS)
    check_layers(frozenset(names), variable)
    return frozenset(names)


def check_layers(names: frozenset[str], variable: str) -> None:
    """Raise ValueError naming `variable` when `names` holds a name that is not a layer."""
    unknown = set(names) - set(ALL_LAYERS)
    if unknown:
        raise ValueError(f"{variable}: unknown sandbox layer(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(ALL_LAYERS)}, all")
