"""Every Python code block in README.md and docs/*.md runs, in order, file by file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_code_blocks_run(document: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"doc_{document.stem}"}
    for number, block in enumerate(BLOCK.findall(document.read_text()), start=1):
        code = compile(block, f"{document.name}, block {number}", "exec")
        exec(code, namespace)


def test_the_readme_has_python_blocks() -> None:
    assert BLOCK.findall((ROOT / "README.md").read_text())
