"""16 processes complete the last 16 components of a job at once, 50 times: one finish
record each time (the file store here; the PostgreSQL store in its own module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobledger.testing.finish_race import finish_race


@pytest.mark.slow
def test_one_finish_record_per_job_on_the_file_store(tmp_path: Path) -> None:
    assert finish_race(f"file://{tmp_path}", processes=16, rounds=50) == [1] * 50
