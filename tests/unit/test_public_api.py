"""The curated public API and the layering rule."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import ModuleType

import pytest

import jobledger
import jobledger.events
import jobledger.ports
import jobledger.testing

SRC = Path(jobledger.__file__).resolve().parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(jobledger) if n.isidentifier() and not n.startswith("_")}
    modules = {
        "application",
        "domain",
        "adapters",
        "entrypoints",
        "integrations",
        "testing",
        "ports",
        "events",
        "pytest_plugin",
        "web",
    }
    assert set(jobledger.__all__) == public - modules
    assert jobledger.__all__ == sorted(jobledger.__all__)


@pytest.mark.parametrize("module", [jobledger.events, jobledger.ports, jobledger.testing])
def test_public_modules_list_exactly_their_public_names(module: ModuleType) -> None:
    public = {n for n in vars(module) if n.isidentifier() and not n.startswith("_")}
    imported = {n for n in public if isinstance(vars(module)[n], ModuleType)}
    assert set(module.__all__) == public - imported - {"find_spec"}
    assert module.__all__ == sorted(module.__all__)


def test_the_contracts_asserts_are_rewritten_by_the_pytest_plugin() -> None:
    loader = sys.modules["jobledger.testing.feed"].__loader__
    assert type(loader).__name__ == "AssertionRewritingHook"


def test_errors_share_one_root_and_builtin_bases() -> None:
    assert issubclass(jobledger.JobNotFound, LookupError)
    assert issubclass(jobledger.UnknownComponent, LookupError)
    assert issubclass(jobledger.InvalidJobDefinition, ValueError)
    assert issubclass(jobledger.InvalidReport, jobledger.InvalidInput)
    errors = [
        v for v in vars(jobledger).values() if isinstance(v, type) and issubclass(v, Exception)
    ]
    assert all(issubclass(e, jobledger.JobledgerError) for e in errors)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_the_domain_imports_only_itself_pydantic_and_the_standard_library() -> None:
    allowed_third_party = {"pydantic"}
    for path in (SRC / "domain").glob("*.py"):
        for name in imported_modules(path):
            if name.startswith(".."):
                raise AssertionError(f"{path.name} imports {name} from outside the domain")
            top = name.lstrip(".").split(".")[0]
            assert name.startswith(".") or top in allowed_third_party or _stdlib(top), (
                f"{path.name} imports {name}"
            )


def test_the_application_never_imports_an_adapter_or_an_entry_point() -> None:
    for path in (SRC / "application").rglob("*.py"):
        names = imported_modules(path)
        assert not any("adapters" in n or "entrypoints" in n for n in names), path.name


def test_entry_points_reach_stores_only_through_the_tracker() -> None:
    for path in [*(SRC / "entrypoints").rglob("*.py"), *(SRC / "integrations").rglob("*.py")]:
        assert not any("adapters" in name for name in imported_modules(path)), path.name


WEB_DEPENDENCIES = {"fastapi", "starlette", "jinja2", "uvicorn", "httpx"}


def test_only_the_web_package_imports_the_web_dependencies_and_the_core_never_the_web() -> None:
    web = SRC / "entrypoints" / "web"
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(web) or path == SRC / "web.py":  # jobledger.web: the public path
            continue
        names = imported_modules(path)
        assert not {n.split(".")[0] for n in names} & WEB_DEPENDENCIES, path.name
        if not path.is_relative_to(SRC / "entrypoints"):
            assert not any(n.endswith(".web") or ".web." in n for n in names), path.name


def test_the_command_line_imports_the_web_app_and_the_queues_only_when_needed() -> None:
    import subprocess
    import sys

    script = (
        "import sys, jobledger, jobledger.entrypoints.cli\n"
        f"loaded = {sorted(WEB_DEPENDENCIES)!r}\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in loaded], sys.modules\n"
        "assert 'jobledger.entrypoints.web' not in sys.modules\n"
        f"queues = {sorted(QUEUES)!r}\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in queues], sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


QUEUES = {"celery", "rq", "dramatiq", "redis", "kombu", "billiard"}


def test_only_the_integrations_import_the_task_queues() -> None:
    for path in SRC.rglob("*.py"):
        if path.parent.name != "integrations":
            tops = {name.split(".")[0] for name in imported_modules(path)}
            assert not tops & QUEUES, path


def test_adapters_never_import_an_entry_point() -> None:
    for path in (SRC / "adapters").rglob("*.py"):
        assert not any("entrypoints" in name for name in imported_modules(path)), path.name


def _stdlib(name: str) -> bool:
    import sys

    return name in sys.stdlib_module_names or name == "__future__"
