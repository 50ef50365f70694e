"""Test support for users and for jobledger itself (install `jobledger[testing]`).

`contract.TrackerContract` (the suite every store passes, with `lifecycle`'s finish-record,
hook, view and query cases), `multistream.MultiStreamRecorderCase`, `machine` (a Hypothesis
state machine), `finish_race`, `strategies` (Hypothesis strategies for events and feeds),
`clock.FrozenClock` and `postgres_server.throwaway_postgres`.
"""

from importlib.util import find_spec

_missing = [name for name in ("hypothesis", "pytest") if find_spec(name) is None]
if _missing:
    raise ImportError(
        f"jobledger.testing needs {' and '.join(_missing)}: pip install 'jobledger[testing]'"
    )
