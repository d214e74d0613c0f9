"""Run the emulator by hand: ``python -m reference_service.emulator [--canary-weight 0.1] ...``.

Starts one service, ``scorer``, with a v1 stable deployment and a v2 canary, prints the front door's URL
on stdout (``LISTENING http://127.0.0.1:<port>``) and serves until Ctrl-C or SIGTERM, then stops every
instance. Drive it with ``python -m reference_service.loadgen <url>/services/scorer/predict``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from reference_service.emulator.config import DeploymentConfig, ServiceConfig
from reference_service.emulator.errors import EmulatorError
from reference_service.emulator.runtime import Emulator, default_home


def build_services(args: argparse.Namespace) -> list[ServiceConfig]:
    common = {"concurrency": args.concurrency, "keep_alive_s": args.keep_alive, "max_instances": args.max_instances,
              "memory_mb": args.memory_mb, "timeout_s": args.timeout}
    stable = DeploymentConfig("scorer-v1", model_version="v1", role="stable", min_instances=args.min_instances,
                              **common)
    canary = DeploymentConfig("scorer-v2", model_version="v2", role="canary", **common)
    return [ServiceConfig("scorer", (stable, canary),
                          weights={"scorer-v1": 1.0 - args.canary_weight, "scorer-v2": args.canary_weight})]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_service.emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--home", default=None, help="Inferwatch home (default $INFERWATCH_HOME or ./.inferwatch)")
    parser.add_argument("--port", type=int, default=0, help="front door port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--canary-weight", type=float, default=0.1)
    parser.add_argument("--min-instances", type=int, default=1, help="prewarmed instances of the stable version")
    parser.add_argument("--max-instances", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep-alive", type=float, default=30.0, help="idle seconds before scale-down")
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    home = default_home() if args.home is None else default_home({"INFERWATCH_HOME": args.home})
    try:
        with Emulator(home, build_services(args), port=args.port) as emu:
            print(f"LISTENING {emu.url}", flush=True)
            started = time.monotonic()
            while args.duration is None or time.monotonic() - started < args.duration:
                time.sleep(0.2)
            print(json.dumps(emu.stats().to_dict()), flush=True)
    except EmulatorError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
