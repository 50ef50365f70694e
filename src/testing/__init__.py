"""Test support for users and for jobledger itself (install `jobledger[testing]`).

`contract.TrackerContract` (the suite every store passes, with `lifecycle`'s finish-record,
hook, view and query cases), `multistream.MultiStreamRecorderCase`, `machine` (a Hypothesis
state machine), `finish_race`, `strategies` (Hypothesis strategies for events and feeds),
`clock.FrozenClock` and `postgres_server.throwaway_postgres`.
"""
