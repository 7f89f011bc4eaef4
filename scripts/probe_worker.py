"""Ask this host's worker probe: `python -m scripts.probe_worker [healthz|readyz] [--port N]`.

Exit 0 when the probe answers 200, 1 otherwise, printing its answer: a container
healthcheck for `dramatiq hint_actors` (compose.yaml), or an operator's quick look.
The port is WORKER_METRICS_PORT unless given (worker_probe.py says what each probe checks).
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 5.0


def probe(port: int, which: str = "readyz", host: str = "127.0.0.1") -> tuple[int, str]:
    """The probe's status and body; status 0 when nothing answers on the port."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/{which}", timeout=TIMEOUT_SECONDS) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, f"nothing answers on {host}:{port} ({exc})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="readyz", choices=["healthz", "readyz"])
    parser.add_argument("--port", type=int, help="default: WORKER_METRICS_PORT")
    args = parser.parse_args(argv)
    port = args.port
    if port is None:
        from settings import load_settings

        port = load_settings().worker_metrics_port
        if not port:
            print("WORKER_METRICS_PORT=0: this host's workers serve no probe")
            return 1
    status, body = probe(port, args.which)
    print(f"{args.which} {status or 'unreachable'}: {body.strip()}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
