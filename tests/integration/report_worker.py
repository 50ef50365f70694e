"""A worker process for the crash tests: reports on its components, logging each receipt.

Usage: report_worker.py STORE_URL JOB_ID ACK_LOG COMPONENT...
Each component gets start(progress=0.5) then complete; a receipt is logged (and fsynced)
only after `report()` returned. Rerunning after a kill resumes: already-final components are
skipped by the tracker's own rules.
"""

from __future__ import annotations

import json
import os
import sys

from jobledger import InvalidTransition, Receipt, Tracker


def log(ack: int, receipt: Receipt) -> None:
    if receipt.recorded:
        line = json.dumps([receipt.component, receipt.version, receipt.status.value]) + "\n"
        os.write(ack, line.encode())
        os.fsync(ack)


def main() -> None:
    url, job_id, ack_path, *components = sys.argv[1:]
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with Tracker.open(url) as tracker:
        for component in components:
            try:
                log(ack, tracker.start(job_id, component, progress=0.5))
            except InvalidTransition:
                continue
            log(ack, tracker.complete(job_id, component))


if __name__ == "__main__":
    main()
