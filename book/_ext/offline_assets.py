"""Sphinx extension: stage plotly.js, MathJax 3 and the ipywidgets embed manager into the
site's ``_static`` folder so that every page draws its figures, math and widgets offline.

Sources: plotly.js from the installed ``plotly`` Python package (so it always matches the
figures' JSON); MathJax, RequireJS and ``@jupyter-widgets/html-manager`` from ``node_modules``
(``npm ci``, pinned in ``package.json``). ``_config.yml`` points Sphinx at the staged copies.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

REPO = Path(__file__).resolve().parents[2]


def _sources() -> dict[str, Path]:
    node = REPO / "node_modules"
    return {
        "plotly/plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
        "mathjax": node / "mathjax" / "es5",
        "widgets/require.min.js": node / "requirejs" / "require.js",
        "widgets/widgets-compat.js": Path(__file__).with_name("widgets-compat.js"),
        "widgets": node / "@jupyter-widgets" / "html-manager" / "dist",
    }


def _stage(app: Sphinx, config: Config) -> None:
    stage = Path(app.outdir).parent / "offline_static"
    for target, source in _sources().items():
        if not source.exists():
            raise ExtensionError(
                f"offline asset {source} is missing: run `npm ci` in {REPO} "
                "(the Makefile's set-up does) before building the book"
            )
        dest = stage / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source,
                dest,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("*.map", "lib*", "embed.js*"),
            )
        else:
            shutil.copyfile(source, dest)
    config.html_static_path = [*config.html_static_path, str(stage)]


def _drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object
) -> None:
    """Keep one copy of each script tag. sphinx-thebe (always loaded by Jupyter Book) registers
    inline ``const THEBE_JS_URL = ...`` twice under Sphinx 7 (once with filename None, once
    with ""), and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared"
    on every page; sphinx-togglebutton's inline script is doubled the same way."""
    seen: set[tuple[object, ...]] = set()
    unique = []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        name = getattr(script, "filename", script) or ""  # inline scripts: None or ""
        key = (str(name), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("config-inited", _stage)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
