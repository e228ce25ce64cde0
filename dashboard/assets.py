"""The page's own files and the chart library's JavaScript, served by the app (never a CDN)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
CHART_PACKAGE = "plotly"  # pinned in requirements.txt; its wheel ships plotly.js, built and minified
CHART_FILE = Path("package_data") / "plotly.min.js"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@lru_cache(maxsize=None)
def template(name: str) -> str:
    """The text of a file in templates/."""
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def url(name: str) -> str:
    """The URL of a file in static/."""
    return f"/static/{name}"


@lru_cache(maxsize=1)
def chart_js() -> tuple[str, Path] | None:
    """(version, path) of plotly.min.js inside the installed package, or None when it is missing."""
    # find_spec locates the package without importing its (slow, unneeded) Python side.
    spec = importlib.util.find_spec(CHART_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / CHART_FILE
    if not path.is_file():
        return None
    try:
        version = importlib.metadata.version(CHART_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "local"
    return version, path


def chart_js_url() -> str | None:
    """The versioned URL of the chart library (cacheable forever), or None when it is missing."""
    found = chart_js()
    return None if found is None else f"/static/vendor/plotly-{found[0]}.min.js"


def resolve(path: str) -> tuple[Path, str, bool] | None:
    """(file, content type, immutable) for a request path under /static/, or None."""
    chart_url = chart_js_url()
    if chart_url is not None and path == chart_url:
        return chart_js()[1], CONTENT_TYPES[".js"], True
    prefix = "/static/"
    if not path.startswith(prefix):
        return None
    name = path[len(prefix) :]
    # Only plain names of files that ship in static/: no sub-paths, so no traversal.
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    candidate = STATIC_DIR / name
    if not candidate.is_file() or candidate.suffix not in CONTENT_TYPES:
        return None
    return candidate, CONTENT_TYPES[candidate.suffix], False
