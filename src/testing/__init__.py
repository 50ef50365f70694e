"""Test support for users and for jobledger itself (install `jobledger[testing]`).

A store author writes one small pytest subclass per contract: `TrackerContract` (the suite
every store passes through the Tracker; implement `create_tracker(clock)`),
`RecorderContract` (the `PrunableRecorder` and `MultiStreamRecorder` ports; mix it into
eventsourcing's `ApplicationRecorderTestCase`) and, for a store with a status view of its
own, `StatusViewContract` (implement `create_view()`). Installing jobledger registers a
pytest plugin that rewrites this package's asserts, so their failures say what differed.
`TrackerContract` gathers the case modules `lifecycle`, `feed`, `pruning` (with the helpers
`finished_jobs` and `assert_pruned`), `concurrency` and `freshness`. Also here: `strategies`
(Hypothesis strategies for events and feeds), `FrozenClock`, `machine`, `finish_race`,
`multistream` and `postgres_server.throwaway_postgres`.
"""

from importlib.util import find_spec

_missing = [name for name in ("hypothesis", "pytest") if find_spec(name) is None]
if _missing:
    raise ImportError(
        f"jobledger.testing needs {' and '.join(_missing)}: pip install 'jobledger[testing]'"
    )

from .clock import FrozenClock  # noqa: E402
from .contract import TrackerContract  # noqa: E402
from .recorders import RecorderContract  # noqa: E402
from .views import StatusViewContract  # noqa: E402

__all__ = ["FrozenClock", "RecorderContract", "StatusViewContract", "TrackerContract"]
