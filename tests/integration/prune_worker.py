"""A prune process for the crash tests: loads everything, prints `ready`, then runs the real
command line, `jobledger --store URL prune --older-than 0s --json`.

Usage: prune_worker.py STORE_URL
"""

from __future__ import annotations

import sys

from jobledger.entrypoints.cli import main

if __name__ == "__main__":
    print("ready", flush=True)
    sys.exit(main(["--store", sys.argv[1], "prune", "--older-than", "0s", "--json"]))
