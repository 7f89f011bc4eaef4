"""The sandbox's settings and errors. The sandbox reads no environment: the caller (the
service's settings, a script, a test) builds a ``SandboxConfig`` and hands it over."""

from __future__ import annotations

from dataclasses import dataclass

from hint_core.errors import HintServiceError
from hint_core.sandbox.layers import check_layers


class SandboxError(HintServiceError, RuntimeError):
    """The sandbox itself failed (not the program): retry later or alert an operator."""


class SandboxUnavailable(SandboxError):
    """The sandbox cannot run here as configured (a required layer is missing, or its
    directory is unusable); the machine will not change by itself, so it is not retried."""


@dataclass(frozen=True)
class SandboxConfig:
    """Operator settings; each field is named after the variable the service reads it from.

    - ``require`` (SANDBOX_REQUIRE): layers without which no program runs.
    - ``disable`` (SANDBOX_DISABLE): layers switched off (a kernel where one misbehaves).
    - ``uid_base`` (SANDBOX_UID_BASE): per-run uids are uid_base + 64 * block + slot.
    - ``tmp_dir`` (SANDBOX_TMP_DIR): where the server makes its directory; None picks the
      system's temporary directory, or another that the per-run uids can reach.
    """

    require: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    uid_base: int = 40000
    uid_blocks: int = 300
    tmp_dir: str | None = None

    def __post_init__(self) -> None:
        check_layers(self.require, "SANDBOX_REQUIRE")
        check_layers(self.disable, "SANDBOX_DISABLE")
        if type(self.uid_base) is not int or self.uid_base < 1000:
            raise ValueError(f"SANDBOX_UID_BASE must be a whole number of at least 1000, "
                             f"not {self.uid_base!r}")
