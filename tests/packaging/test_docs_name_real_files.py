"""Docs are true by test: every repository file a doc, docstring or comment names exists."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venv", ".git", "data", "logs", "build", "dist", "node_modules"}
TOP_LEVEL = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in SKIPPED and not p.name.startswith(".")}
# A path into the checkout (`tests/storage/test_loader.py`, `docs/deploy/`), or a test module by
# its file name; not a URL, a home or system path, nor a shell variable's expansion.
PATH = re.compile(r"(?<![\w/.:~$-])((?:[\w.-]+/)+[\w.-]*|test_\w+\.py)")
BINARY = {".png", ".jpg", ".jpeg", ".gif", ".ico"}
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)")
# A path right after another project's name (joostlek/python-withings `tests/fixtures/device.json`)
# is that project's.
OTHER_PROJECT = re.compile(r"\b[\w.-]+/[\w.-]+\s+`$")


def _files(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.rglob(pattern) if not SKIPPED & set(p.relative_to(ROOT).parts))


TEST_MODULES = {p.name for p in _files("test_*.py")}


def _docs() -> list[Path]:
    """README, docs/*.md and the deploy recipes (CHANGELOG is history: it names what was)."""
    deploy = sorted(p for p in (ROOT / "docs" / "deploy").rglob("*") if p.is_file() and p.suffix not in BINARY)
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *deploy]


def _prose_of_python(path: Path) -> list[tuple[int, str]]:
    """Every comment and docstring-like string of a module, with the line it starts on."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        is_docstring = token.type == tokenize.STRING and token.string.lstrip("rbuRBU").startswith(('"""', "'''"))
        if token.type == tokenize.COMMENT or is_docstring:
            found.append((token.start[0], token.string))
    return found


def _missing(name: str) -> bool:
    if "/" not in name:
        return name not in TEST_MODULES
    if name.split("/")[0] not in TOP_LEVEL:
        return False  # not a path into the checkout
    if (ROOT / name.rstrip("/")).exists():
        return False
    module, _, attribute = name.rpartition(".")  # `storage/write.plan`: a function of storage/write.py
    return not (attribute.isidentifier() and (ROOT / f"{module}.py").exists())


def _named(texts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(line, path) for every path a text names; each text is given with the line it starts on."""
    return [
        (first + text.count("\n", 0, m.start()), m.group(1).rstrip("."))
        for first, text in texts
        for m in PATH.finditer(text)
        if not OTHER_PROJECT.search(text, 0, m.start())
    ]


def test_every_file_a_doc_names_exists():
    missing = []
    for doc in _docs():
        text = doc.read_text()
        for n, name in _named([(1, text)]):
            if _missing(name):
                missing.append(f"{doc.relative_to(ROOT)}:{n}: {name}")
        for n, line in enumerate(text.splitlines(), 1):  # a relative link is relative to its own document
            for link in MARKDOWN_LINK.findall(line):
                if "://" not in link and not link.startswith("mailto:") and not (doc.parent / link).exists():
                    missing.append(f"{doc.relative_to(ROOT)}:{n}: {link}")
    assert not missing, missing


def test_every_file_a_docstring_or_comment_names_exists():
    missing = [
        f"{path.relative_to(ROOT)}:{n}: {name}"
        for path in _files("*.py")
        for n, name in _named(_prose_of_python(path))
        if _missing(name)
    ]
    assert not missing, missing


def test_a_moved_file_is_caught():
    assert _named([(1, "see tests/test_readers_agree.py and test_flagged_values.py.")]) == [
        (1, "tests/test_readers_agree.py"),
        (1, "test_flagged_values.py"),
    ]
    assert _missing("tests/test_readers_agree.py") and _missing("test_flagged_values.py")
    assert not _missing("tests/storage/test_loader.py") and not _missing("test_loader.py")
    assert _named([(1, "https://developer.whoop.com/docs/x.md, ~/.config/x/, $HOME/etl/run.sh")]) == []
    named = _named([(7, "a capture (joostlek/python-withings\n`tests/fixtures/device.json`), see\ntests/x.py")])
    assert (9, "tests/x.py") in named and "tests/fixtures/device.json" not in {name for _n, name in named}
