"""The structure the code keeps: the CLI stands on the public API only, and only `grader.runs` opens a run store."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import grader
import grader.api

from .conftest import ROOT

PACKAGE = ROOT / "grader"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from grader import x` counts as `grader`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    names |= {alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    return names


def test_the_command_line_imports_only_the_public_api_and_itself():
    outside = {}
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        wrong = {m for m in imported_modules(path) if m.startswith("grader") and m != "grader.api"
                 and not m.startswith("grader.cli")}
        if wrong:
            outside[path.name] = sorted(wrong)
    assert outside == {}, f"CLI modules import grader's internals (import them through grader.api): {outside}"


def test_only_the_runs_package_opens_a_run_store():
    opening = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "runs":
            continue
        text = path.read_text(encoding="utf-8")
        if "sqlite3" in imported_modules(path) or "run.sqlite" in text.replace('"run.sqlite" (', "") \
                or "RUN_DB" in text:
            opening.append(str(path.relative_to(ROOT)))
    assert opening == [], f"only grader/runs/ may know or open the run store: {opening}"


def test_every_public_name_resolves_and_is_documented():
    for name in grader.api.__all__:
        value = getattr(grader.api, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert (value.__doc__ or "").strip(), f"grader.api.{name} has no docstring"
    for name in grader.__all__:
        assert getattr(grader, name) is not None


def test_no_public_name_is_also_a_subpackage_of_grader():
    """`grader.X` must mean one thing: a submodule, once imported, would shadow an API name of the same name."""
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    submodules = {p.stem for p in PACKAGE.glob("*.py")} | packages
    assert set(grader.api.__all__) & submodules == set()


def test_importing_a_submodule_does_not_load_the_api():
    import subprocess
    import sys

    code = "import sys; from grader import yamlio; print('grader.api' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"


def test_every_module_imports_first_without_a_cycle():
    """Each module of grader imported first, in a fresh module table: an import cycle shows as an ImportError."""
    import subprocess
    import sys

    names = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                   for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")
    code = ("import importlib, sys\nfailed = []\n"
            f"for name in {names!r}:\n"
            "    for loaded in [m for m in sys.modules if m == 'grader' or m.startswith('grader.')]:\n"
            "        del sys.modules[loaded]\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except ImportError as exc:\n        failed.append(f'{name}: {exc}')\n"
            "print('\\n'.join(failed))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout
