"""python -m tests.sim --seed N [--steps 300] | --seeds K [--first 1]: seeded runs of the whole platform under
faults, one JSON line per run (days simulated, actions, faults injected by kind, violations, the trace's digest)
and a last line summing them up. Exit status 1 when any run found a violation."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from .run import simulate


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, help="run this one seed")
    which.add_argument("--seeds", type=int, default=1, help="run this many seeds, from --first on")
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300, help="actions and faults in each run")
    parser.add_argument("--investors", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the services' own logs would drown the lines
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    total = 0
    for seed in seeds:
        outcome = asyncio.run(simulate(seed, args.steps, args.investors))
        print(json.dumps(outcome.line()), flush=True)
        total += len(outcome.violations)
    print(json.dumps({"runs": len(seeds), "steps_each": args.steps, "violations": total}), flush=True)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
