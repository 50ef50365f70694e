"""A plain `pip install jobledger` (no extras) runs the memory and file stores and the CLI,
without psycopg or Hypothesis, and says which extra a PostgreSQL URL needs."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import importlib.util, sys
from jobledger import ConfigurationError, Tracker

for name in ("psycopg", "psycopg_pool", "hypothesis", "pytest"):
    assert importlib.util.find_spec(name) is None, name
for url in ("memory://", "file://" + sys.argv[1]):
    with Tracker.open(url) as tracker:
        job = tracker.create_job(["a", "b"])
        tracker.report(job, "a", "completed")
        assert tracker.summary(job).progress == 0.5, url
try:
    Tracker.open("postgresql://u@127.0.0.1:9/jobs")
except ConfigurationError as error:
    assert "pip install 'jobledger[postgres]'" in str(error), error
else:
    raise AssertionError("a PostgreSQL URL opened without psycopg")
try:
    import jobledger.testing
except ImportError as error:
    assert "jobledger[testing]" in str(error), error
else:
    raise AssertionError("jobledger.testing imported without its extra")
print("plain install ok")
"""


@pytest.mark.slow
def test_a_plain_install_needs_no_extras(tmp_path: Path) -> None:
    source = tmp_path / "source"  # A copy: building writes into the source tree.
    shutil.copytree(ROOT / "src", source / "src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300, cwd=tmp_path)
    checked = subprocess.run(
        [str(bin_dir / "python"), "-c", SCRIPT, str(tmp_path / "store")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert checked.stdout.strip() == "plain install ok", checked.stderr
    helped = subprocess.run(
        [str(bin_dir / "jobledger"), "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    assert "init" in helped.stdout
