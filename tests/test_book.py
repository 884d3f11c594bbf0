"""The built book: a strict Jupyter Book build (warnings are errors), then every page opened in
headless Chromium from a localhost server with the network cut off. A page fails if a plotly
figure did not draw, math was left unrendered, a widget did not render, the page logged a
JavaScript error, or it asked for a script, style or font from anywhere but the site itself;
if the text of a figure (tick labels, titles, annotations, slider and legend labels) overlaps
or leaves the figure; or if visible code takes more than 15% of the page's height (the checks
of tests/page_layout.py). The command-line page must document every command and option of the
parser itself."""

from __future__ import annotations

import argparse
import functools
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from html import unescape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
import yaml
from page_layout import (
    BOOK_FIGURE_WIDTH_PX,
    CODE_SHARE_JS,
    FIGURE_TEXT_JS,
    MAX_CODE_SHARE,
    TEXT_TOLERANCE_PX,
    TITLE_GAP_PX,
)

from robustrep_lite.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.book


def _pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [
            str(jb),
            "build",
            str(ROOT),
            "--builder",
            "html",
            "-W",
            "--keep-going",
            "--path-output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"strict book build failed:\n{log[-6000:]}"
    return out / "_build" / "html"


def test_strict_build_writes_every_page_with_its_offline_assets(built_site: Path) -> None:
    for page in _pages():
        assert (built_site / f"{page}.html").is_file(), page
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for page in _pages():
        if (ROOT / f"{page}.ipynb").exists():  # the theme's launch button, on branch main
            colab = repo.replace("https://github.com/", "https://colab.research.google.com/github/")
            html = (built_site / f"{page}.html").read_text()
            assert f'href="{colab}/blob/main/{page}.ipynb"' in html, page
    static = built_site / "_static"
    for asset in (
        "plotly/plotly.min.js",
        "mathjax/tex-chtml.js",
        "widgets/embed-amd.js",
        "widgets/require.min.js",
    ):
        assert (static / asset).is_file(), asset


def _subcommands() -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """The commands of ``python -m robustrep_lite`` by name, each with its one-line help and its
    parser, from the parser that book/cli.md renders."""
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {name: (helps[name], sub) for name, sub in action.choices.items()}


def _reader_text(html: str) -> str:
    """The text of ``html`` as a reader sees it, whitespace collapsed and Sphinx's typographic
    quotes and ellipses turned back into ASCII (its dashes are kept: an option rendered with an
    en dash is wrong)."""
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    for typographic, plain in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(typographic, plain)
    return text.replace("\u2026", "...")


def test_cli_page_documents_every_command_and_option_of_the_parser(built_site: Path) -> None:
    page = (built_site / "book" / "cli.html").read_text()
    commands = _subcommands()
    assert re.findall(r'<span id="([\w-]+)"></span><h4>\1<a', page) == list(commands)
    starts = [page.index(f'<section id="python-m-robustrep_lite-{name}">') for name in commands]
    ends = [*starts[1:], len(page)]
    for (name, (summary, parser)), start, end in zip(commands.items(), starts, ends, strict=True):
        section = page[start:end]
        text = _reader_text(section)
        assert summary and summary in text, name
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:
                assert f"<kbd>{option}</kbd>" in section, (name, option)
            if action.help:
                assert action.help in text, (name, action.help)
            if action.choices:
                assert "Possible choices: " + ", ".join(action.choices) in text, (name, action)
            if action.default is not None:
                assert f"Default: {action.default!r}" in text, (name, action.dest)
    api = (built_site / "book" / "api.html").read_text()
    assert 'href="cli.html"' in api, "the API page links to the command-line reference"


@pytest.fixture(scope="session")
def server(built_site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def browser(server: str, chromium):
    """The process's one Chromium (tests/conftest.py), once the site is served."""
    return chromium


def _expected_outputs(page: str) -> tuple[int, int]:
    """(plotly figures, widget views) stored in the page's notebook (0, 0 for Markdown)."""
    path = ROOT / f"{page}.ipynb"
    if not path.exists():
        return 0, 0
    figures = widgets = 0
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            figures += "application/vnd.plotly.v1+json" in data
            widgets += "application/vnd.jupyter.widget-view+json" in data
    return figures, widgets


UNRENDERED_MATH = r"""() => {
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const bad = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('mjx-container, pre, code, script, style, .highlight')) continue;
    if (/\$\$|\$\\|\\\(|\\\[|\\begin\{/.test(n.textContent)) bad.push(n.textContent.slice(0, 80));
  }
  return bad;
}"""


FONT_FACE_URLS = r"""() => {
  const urls = new Set();
  for (const sheet of document.styleSheets) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { continue; }  // a cross-origin sheet
    for (const rule of rules) {
      if (!(rule instanceof CSSFontFaceRule)) continue;
      for (const m of rule.style.getPropertyValue('src').matchAll(/url\("?([^")]+)"?\)/g)) {
        if (!m[1].startsWith('data:')) urls.add(new URL(m[1], sheet.href || document.baseURI).href);
      }
    }
  }
  return [...urls];
}"""


@pytest.mark.parametrize("page", _pages())
def test_page_draws_offline_without_errors(page: str, server: str, browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    web = context.new_page()
    site = server
    off_site: list[tuple[str, str]] = []
    errors: list[str] = []

    def route(request_route) -> None:
        request = request_route.request
        if request.url.startswith(site) or request.url.startswith("data:"):
            request_route.continue_()
        else:
            off_site.append((request.resource_type, request.url))
            request_route.abort()

    web.route("**/*", route)
    web.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def on_console(message) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and not source.startswith(site):
            return  # an off-site image we cut off on purpose (checked below)
        errors.append(f"console: {message.text} ({source})")

    web.on("console", on_console)
    web.goto(f"{site}/{page}.html", wait_until="load")
    web.wait_for_function("() => !window.MathJax || !!(MathJax.startup && MathJax.startup.promise)")
    web.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
    figures, widget_views = _expected_outputs(page)
    if widget_views:
        web.wait_for_selector(".widget-slider, .jupyter-widgets", timeout=20_000)
    web.wait_for_timeout(500)
    web.screenshot(path=str(tmp_path / "page.png"), full_page=True)

    drawn = web.evaluate(
        "() => [...document.querySelectorAll('.plotly-graph-div')]"
        ".map(d => d.querySelectorAll('.main-svg').length > 0)"
    )
    assert len(drawn) == figures and all(drawn), f"plotly figures drawn: {drawn}, want {figures}"
    math = web.evaluate(
        "() => [...document.querySelectorAll('.math')].map(e => !!e.querySelector('mjx-container'))"
    )
    assert all(math), f"{math.count(False)} math elements were not typeset"
    assert web.evaluate("() => document.querySelectorAll('mjx-merror, mjx-error').length") == 0
    assert web.evaluate(UNRENDERED_MATH) == []
    if widget_views:
        rendered = web.evaluate("() => document.querySelectorAll('.widget-slider').length")
        assert rendered >= 1, "the ipywidgets slider did not render"
    assert not [r for r in off_site if r[0] != "image"], f"off-site requests: {off_site}"
    # A browser fetches a font only when a glyph needs it, so a broken @font-face URL shows
    # up as a 404 only on some loads: request every font the page declares.
    fonts = web.evaluate(FONT_FACE_URLS)
    missing = [url for url in fonts if url.startswith(site) and not context.request.get(url).ok]
    assert missing == [], f"@font-face URLs that do not resolve: {missing}"
    assert errors == []
    context.close()


RESPONSIVE_FIGURE_WIDTHS = r"""() => [...document.querySelectorAll('.plotly-graph-div')]
  .filter(gd => !(gd.layout && gd.layout.width))
  .map(gd => gd.querySelector('.main-svg').getBoundingClientRect().width)"""


@pytest.fixture(scope="session")
def page_layout(server: str, browser):
    """``measure(page)``: the page's figure text problems, visible-code share and the widths of
    its responsive figures, measured once per page as a reader sees it (figures, math and
    widgets drawn)."""
    measured: dict[str, dict] = {}

    def measure(page: str) -> dict:
        if page not in measured:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            web = context.new_page()
            web.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(server) else r.abort(),
            )
            web.goto(f"{server}/{page}.html", wait_until="load")
            web.wait_for_function(
                "() => !window.MathJax || !!(MathJax.startup && MathJax.startup.promise)"
            )
            web.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
            figures, widget_views = _expected_outputs(page)
            if widget_views:
                web.wait_for_selector(".widget-slider, .jupyter-widgets", timeout=20_000)
            if figures:
                web.wait_for_function(
                    "n => document.querySelectorAll('.plotly-graph-div .main-svg').length >= n",
                    arg=figures,
                )
            web.wait_for_timeout(500)
            measured[page] = {
                "problems": web.evaluate(FIGURE_TEXT_JS, [TEXT_TOLERANCE_PX, TITLE_GAP_PX]),
                "code": web.evaluate(CODE_SHARE_JS),
                "widths": web.evaluate(RESPONSIVE_FIGURE_WIDTHS),
            }
            context.close()
        return measured[page]

    return measure


@pytest.mark.parametrize("page", _pages())
def test_page_figures_keep_their_text_apart_and_inside(page: str, page_layout) -> None:
    layout = page_layout(page)
    assert layout["problems"] == [], "\n".join(layout["problems"])
    # tests/test_figure_layout.py draws every figure at this width, before a chapter is re-run
    assert all(abs(w - BOOK_FIGURE_WIDTH_PX) <= 1 for w in layout["widths"]), (
        f"figures {layout['widths']} px wide: set BOOK_FIGURE_WIDTH_PX in tests/page_layout.py"
    )


@pytest.mark.parametrize("page", _pages())
def test_page_shows_at_most_a_little_code(page: str, page_layout) -> None:
    code = page_layout(page)["code"]
    assert code["share"] <= MAX_CODE_SHARE, (
        f"visible code is {code['share']:.1%} of the page's height ({code['cells']} cells, "
        f"{code['code']:.0f} of {code['article']:.0f} px): tag plumbing cells hide-input"
    )
