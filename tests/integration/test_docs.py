"""Every code block in README.md and docs/*.md runs: Python blocks in order, file by file (a
block after `<!-- module: name -->` becomes the importable module `name`); shell blocks with
bash in a scratch directory on a scratch store, `make` lines as dry runs (`make -n`, so the
targets exist and their recipes expand); `toml` blocks are parsed. `text` blocks are figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"^(?:<!-- module: ([\w.]+) -->\n)?```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL
)
RUNNABLE = {"python", "sh", "text", "toml"}


def modules_and_blocks(document: Path, language: str) -> list[tuple[str, str]]:
    """(module name or "", code) of each block in `language`."""
    found = BLOCK.findall(document.read_text())
    return [(module, code) for module, lang, code in found if lang == language]


def blocks(document: Path, language: str) -> list[str]:
    return [code for _, code in modules_and_blocks(document, language)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_python_blocks_run(document: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict[str, object] = {"__name__": f"doc_{document.stem}"}
    for number, (module, block) in enumerate(modules_and_blocks(document, "python"), start=1):
        code = compile(block, f"{document.name}, block {number}", "exec")
        if module:
            monkeypatch.setitem(sys.modules, module, ModuleType(module))
            exec(code, vars(sys.modules[module]))
        else:
            exec(code, namespace)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_toml_blocks_parse(document: Path) -> None:
    for block in blocks(document, "toml"):
        tomllib.loads(block)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_shell_blocks_run(document: Path, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "JOBLEDGER_STORE": f"file://{tmp_path / 'store'}",
    }
    for block in blocks(document, "sh"):
        script = re.sub(r"^make ", f"make -n -C {ROOT} ", block, flags=re.MULTILINE)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{document.name}:\n{block}\n{result.stderr}"


def test_every_block_is_labelled() -> None:
    for document in DOCUMENTS:
        fences = re.findall(r"^```(\w*)$", document.read_text(), re.MULTILINE)
        openings = fences[::2]
        assert all(lang in RUNNABLE for lang in openings), (document.name, openings)
    assert blocks(ROOT / "README.md", "python")
    assert blocks(ROOT / "README.md", "sh")
