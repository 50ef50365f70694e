"""The live projection recipe of docs/projections.md, on the PostgreSQL store (its docs block
runs it on the file store): each event applied once, across a restart."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from jobledger import Tracker

DOC = Path(__file__).resolve().parents[2] / "docs" / "projections.md"


@pytest.fixture
def recipe(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    [code] = re.findall(
        r"<!-- module: retry_counts -->\n```python\n(.*?)^```",
        DOC.read_text(),
        re.MULTILINE | re.DOTALL,
    )
    module = ModuleType("retry_counts")
    monkeypatch.setitem(sys.modules, "retry_counts", module)
    exec(compile(code, str(DOC), "exec"), vars(module))
    return module


def test_the_recipe_counts_each_event_once_on_postgres(
    recipe: ModuleType, postgres_database: str, tmp_path: Path
) -> None:
    database = str(tmp_path / "retries.db")
    with Tracker.open(postgres_database) as tracker:
        job = tracker.create_job(["a", "b"])
        with recipe.retry_counts(postgres_database, database) as runner:
            tracker.report(job, "a", "retrying")
            last = tracker.report(job, "a", "retrying")
            runner.wait(last.position, timeout=30)
            assert runner.view.count("a") == 2
        tracker.report(job, "b", "retrying")
        last = tracker.complete(job, "b")
        with recipe.retry_counts(postgres_database, database) as runner:
            runner.wait(last.position, timeout=30)
            assert (runner.view.count("a"), runner.view.count("b")) == (2, 1)
