"""The sandbox figures for `scripts.bench`, measured by the sandbox's own benchmark.

`scripts/bench_sandbox.py` belongs to the sandbox and prints its figures. This adapter
runs it in a separate process (its executor and fork server then live and die there)
and reads the figures back, so the numbers in both reports are one measurement.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from tests.production import ROOT

_SANDBOX = re.compile(r"sandbox run .*median of \d+: ([\d.]+) ms")
_BARE = re.compile(r"bare .*median of \d+: ([\d.]+) ms")
_LAYERS = re.compile(r"layers: (.*)")


def parse(output: str) -> dict[str, Any]:
    """The medians (ms), their ratio and the layers from bench_sandbox's printout."""
    sandbox, bare = _SANDBOX.search(output), _BARE.search(output)
    if not sandbox or not bare:
        raise RuntimeError(f"unexpected output from scripts.bench_sandbox:\n{output[-2000:]}")
    sandbox_ms, bare_ms = float(sandbox.group(1)), float(bare.group(1))
    layers = _LAYERS.search(output)
    return {
        "sandbox_ms": sandbox_ms,
        "bare_interpreter_ms": bare_ms,
        "ratio": sandbox_ms / bare_ms,
        "layers": layers.group(1).split(", ") if layers else [],
    }


def measure_sandbox(runs: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "scripts.bench_sandbox", "--runs", str(runs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"scripts.bench_sandbox failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    return {**parse(done.stdout), "runs": runs}
