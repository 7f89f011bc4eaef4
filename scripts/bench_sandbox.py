"""Benchmark the sandbox against a bare interpreter start, measured in the same run.

    python -m scripts.bench_sandbox [--runs N] [--threads T]

Prints the median wall time of one sandboxed run of a trivial program (every layer this
machine has, all of the problem's tests), the median of `python -I -S -c pass` started
with subprocess, and their ratio (aim: at most 1). The two are measured alternately so
that noise from other work on the machine hits both alike. With --threads T > 1 it
also reports throughput when T threads run programs concurrently.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from hint_core.problems import Problem, TestCase
from hint_core.sandbox import ForkServerExecutor, SandboxConfig

TRIVIAL = Problem(
    id="bench", title="bench", description="", template="", kind="function", function="f",
    tests=(TestCase(name="t", args=(1,), expected=1),), solutions=(),
)
PROGRAM = "def f(x):\n    return x\n"


def _time(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_sandbox",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    executor = ForkServerExecutor(SandboxConfig())
    layers = executor.info()["layers"]

    def sandboxed() -> None:
        result = executor.run(TRIVIAL, PROGRAM)
        assert result.correct, result.first_failure_text()

    def bare() -> None:
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)

    for _ in range(3):  # warm up both
        sandboxed()
        bare()
    sandbox_times, bare_times = [], []
    for _ in range(args.runs):
        sandbox_times.append(_time(sandboxed))
        bare_times.append(_time(bare))
    s, b = statistics.median(sandbox_times), statistics.median(bare_times)
    print(f"layers: {', '.join(layers)}")
    print(f"sandbox run (trivial program), median of {args.runs}: {s * 1000:.2f} ms")
    print(f"bare `python -I -S -c pass`, median of {args.runs}: {b * 1000:.2f} ms")
    print(f"ratio sandbox / bare interpreter: {s / b:.2f}")
    if args.threads > 1:
        count = args.runs
        started = time.perf_counter()
        threads = [threading.Thread(target=lambda: [sandboxed() for _ in range(count)])
                   for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = args.threads * count
        print(f"{args.threads} threads, {total} runs: {total / (time.perf_counter() - started):.0f} runs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
