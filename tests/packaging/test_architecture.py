"""The shape of the code: the design card's modules at the root, packages by job, no import upwards."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Bottom to top. A part may import parts of lower layers and its own package, nothing else: a
# reader of any module knows that what it uses sits below it.
LAYERS = (
    ("configuration",),
    ("api_clients", "mapping"),
    ("models",),
    ("storage",),
    ("migrations",),
    ("db_loader",),
    ("sync",),
    ("readers",),
    ("dashboard", "mcp_server", "publish", "webhooks"),
    ("commands",),
    ("etl",),
    ("run_app",),
)
LAYER_OF = {part: index for index, parts in enumerate(LAYERS) for part in parts}
# A package's `__main__` (`python -m dashboard`) is a door, like etl.py: it may call the commands.
DOOR = LAYER_OF["etl"]
CARD_MODULES = {"run_app.py", "etl.py", "db_loader.py", "models.py"}
NOT_SHIPPED = {"tests", "sandbox", "bench", "scripts", "docs", "data", "logs"}


def _sources(part: str) -> list[Path]:
    path = ROOT / part
    return sorted(path.rglob("*.py")) if path.is_dir() else [ROOT / f"{part}.py"]


def _imported_parts(source: Path) -> set[str]:
    """The project's top-level parts that a module imports, lazy imports inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LAYER_OF)


def test_the_root_holds_the_design_cards_modules_and_packages_by_job():
    root_modules = {p.name for p in ROOT.glob("*.py")}
    assert root_modules <= CARD_MODULES | {"conftest.py"} and len(root_modules) <= 5
    packages = {p.parent.name for p in ROOT.glob("*/*.py")} - NOT_SHIPPED
    assert packages == set(LAYER_OF) - {m.removesuffix(".py") for m in CARD_MODULES}


@pytest.mark.parametrize("part", sorted(LAYER_OF))
def test_nothing_imports_upwards(part):
    for source in _sources(part):
        layer = DOOR if source.name == "__main__.py" else LAYER_OF[part]
        for other in _imported_parts(source) - {part}:
            assert LAYER_OF[other] < layer, f"{source.relative_to(ROOT)} imports {other}, which is not below {part}"


def test_commands_sit_above_the_read_and_sync_layers_and_below_the_doors():
    below = {"sync", "readers", "dashboard", "mcp_server"}
    assert all(LAYER_OF[part] < LAYER_OF["commands"] for part in below)
    assert LAYER_OF["commands"] < LAYER_OF["etl"] < LAYER_OF["run_app"]
    # Only the doors (etl.py, the menu, a package's `__main__`) import the commands.
    importers = {
        source.relative_to(ROOT).as_posix()
        for part in LAYER_OF
        if part != "commands"
        for source in _sources(part)
        if "commands" in _imported_parts(source)
    }
    assert importers <= {"etl.py", "run_app.py", "dashboard/__main__.py"}, importers


def test_read_side_packages_hold_no_command_and_take_no_lock():
    # A reader only reads: what deletes data or takes a sync lock is a sync service a command calls.
    for part in ("readers", "dashboard", "mcp_server"):
        for source in _sources(part):
            text = source.read_text()
            assert "import click" not in text, f"{source.relative_to(ROOT)} is a command: it belongs in commands/"
            assert "sync.lock" not in text, f"{source.relative_to(ROOT)} takes a sync lock"


def test_every_package_says_what_it_is_for():
    for init in ROOT.glob("*/__init__.py"):
        if init.parent.name not in NOT_SHIPPED - {"sandbox"}:
            assert ast.get_docstring(ast.parse(init.read_text())), f"{init.relative_to(ROOT)} has no docstring"


def test_nothing_cites_an_issue_number():
    # A clone has no issue tracker: a comment or doc gives the reason itself.
    pattern = re.compile(r"\bissues? ?#?\d+", re.IGNORECASE)
    paths = [
        p
        for p in ROOT.rglob("*")
        if p.suffix in (".py", ".md", ".sh", ".toml", ".example")
        and not {".venv", ".git", "data"} & set(p.relative_to(ROOT).parts)
    ]
    citing = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in paths
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not citing, citing
