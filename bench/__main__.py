"""Run the benchmarks: `python -m bench [ingest|batch|queries|delivery ...]` (default: all)."""

from __future__ import annotations

import argparse
import importlib

SUITES = ("ingest", "batch", "queries", "delivery")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of {', '.join(SUITES)} (default: all)")
    chosen = parser.parse_args().suites or list(SUITES)
    unknown = set(chosen) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"bench.{name}").run()


if __name__ == "__main__":
    main()
