"""The pytest plugin jobledger registers (entry point `pytest11`): the asserts of the
contracts in `jobledger.testing` are rewritten, so a failing contract says what differed.
Without the plugin (`pytest -p no:jobledger`), call
`pytest.register_assert_rewrite("jobledger.testing")` in your conftest.py instead."""

import pytest

pytest.register_assert_rewrite("jobledger.testing")
