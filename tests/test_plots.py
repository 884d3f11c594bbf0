"""The plotly renderer the book relies on, the slider twin, and the PNG helper."""

from __future__ import annotations

import io
import json
import sys
import types

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from robustrep_lite.book.chapter import data_summary, glue, glue_facts, stored_run_line
from robustrep_lite.book.plots import (
    LIVE_NOTICE,
    RENDERER_NAME,
    SLIDER_PAD,
    SLIDER_PAD_TITLED,
    SUBPLOT_TITLE_LIFT,
    TICK_LABEL_STANDOFF,
    image_grid,
    image_png,
    image_slider_figure,
    image_slider_widget,
    lift_subplot_titles,
    setup_plotly,
    slider_figure,
    use_book_template,
)
from robustrep_lite.training.data import Splits


def test_setup_plotly_selects_our_renderer_outside_colab(monkeypatch) -> None:
    monkeypatch.delenv("PLOTLY_RENDERER", raising=False)
    assert setup_plotly() == RENDERER_NAME and pio.renderers.default == RENDERER_NAME
    monkeypatch.setenv("PLOTLY_RENDERER", "json")
    assert setup_plotly() == "json"
    assert setup_plotly("png") == "png"
    setup_plotly(RENDERER_NAME)


def test_the_book_template_stands_tick_labels_off_every_axis(monkeypatch) -> None:
    monkeypatch.setattr(pio.templates, "default", "plotly")
    plain = go.Figure().layout.template
    assert plain.layout.xaxis.ticklabelstandoff is None
    assert use_book_template() == "plotly+robustrep" == pio.templates.default
    layout = go.Figure().layout.template.layout
    assert layout.xaxis.ticklabelstandoff == layout.yaxis.ticklabelstandoff == TICK_LABEL_STANDOFF
    assert layout.colorway == plain.layout.colorway  # plotly's own template underneath
    pio.templates.default = "plotly"
    setup_plotly(RENDERER_NAME)  # the chapters' set-up chooses it too
    assert pio.templates.default == "plotly+robustrep"


def test_renderer_emits_html_without_any_cdn_and_the_plotly_json() -> None:
    setup_plotly(RENDERER_NAME)
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    bundle = pio.renderers[RENDERER_NAME].to_mimebundle(fig.to_dict())
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html and "plotly-graph-div" in html
    assert "<script src" not in html and "cdn" not in html.lower()  # plotly.js comes from the page
    assert "mathjax" not in html.lower()  # the page's own MathJax, never a second copy
    assert json.dumps(bundle["application/vnd.plotly.v1+json"]["data"][0]["y"]) == "[1, 0]"


def _steps(n: int, traces: int = 2):
    return [(f"s{i}", [go.Scatter(x=[0, 1], y=[i, t]) for t in range(traces)]) for i in range(n)]


def test_slider_figure_shows_exactly_one_step_at_a_time() -> None:
    fig = slider_figure(_steps(4), slider_label="eps", active=2)
    assert [bool(t.visible) for t in fig.data] == [i // 2 == 2 for i in range(8)]
    slider = fig.layout.sliders[0]
    assert slider.active == 2 and slider.currentvalue.prefix == "eps = "
    for i, step in enumerate(slider.steps):
        assert step.label == f"s{i}"
        assert step.args[0]["visible"] == [j // 2 == i for j in range(8)]


def test_slider_figure_leaves_room_for_an_x_axis_title() -> None:
    plain = slider_figure(_steps(2), slider_label="x")
    assert plain.layout.sliders[0].pad.t == SLIDER_PAD
    titled = slider_figure(_steps(2), slider_label="x", layout={"xaxis_title": "ε"})
    assert titled.layout.sliders[0].pad.t == SLIDER_PAD_TITLED > SLIDER_PAD
    from plotly.subplots import make_subplots

    second = slider_figure(
        _steps(2),
        slider_label="x",
        figure=make_subplots(rows=1, cols=2).update_xaxes(title="β", row=1, col=2),
    )
    assert second.layout.sliders[0].pad.t == SLIDER_PAD_TITLED  # any x axis's title
    assert slider_figure(_steps(2), slider_label="x", pad=7).layout.sliders[0].pad.t == 7


def test_lift_subplot_titles_raises_only_the_titles() -> None:
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("left", "right"))
    assert lift_subplot_titles(fig, size=13) is fig
    fig.add_annotation(x=0.5, y=0.5, text="a note", showarrow=False)
    titles, note = fig.layout.annotations[:2], fig.layout.annotations[2]
    assert [(a.yshift, a.font.size) for a in titles] == [(SUBPLOT_TITLE_LIFT, 13)] * 2
    assert note.yshift is None
    plain = lift_subplot_titles(make_subplots(rows=1, cols=2, subplot_titles=("a", "b")))
    assert plain.layout.annotations[0].font.size == 16  # make_subplots's own


def test_slider_figure_rejects_bad_steps() -> None:
    with pytest.raises(ValueError, match="steps"):
        slider_figure([], slider_label="x")
    with pytest.raises(ValueError, match="same, non-zero number"):
        slider_figure([("a", _steps(1, 1)[0][1]), ("b", _steps(1, 2)[0][1])], slider_label="x")
    with pytest.raises(ValueError, match="active"):
        slider_figure(_steps(2), slider_label="x", active=2)


def test_image_png_round_trips_pixels() -> None:
    from PIL import Image

    image = torch.linspace(0, 1, 12).reshape(1, 3, 4)
    decoded = Image.open(io.BytesIO(image_png(image, scale=2)))
    assert decoded.size == (8, 6)
    assert decoded.getpixel((7, 5)) == 255 and decoded.getpixel((0, 0)) == 0
    assert Image.open(io.BytesIO(image_png(torch.rand(3, 5, 5), scale=1))).mode == "RGB"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (torch.rand(5, 5), "shape"),
        (torch.rand(2, 5, 5), "shape"),
        (torch.full((1, 2, 2), 1.5), "range"),
    ],
)
def test_image_png_rejects_bad_images(image: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message if message != "range" else r"\[0, 1\]"):
        image_png(image)


def test_image_grid_titles_each_image_with_its_label() -> None:
    images = torch.rand(10, 1, 4, 4)
    fig = image_grid(images, torch.arange(10) % 3, title="ten", columns=4)
    assert fig.layout.title.text == "ten" and len(fig.data) == 10
    assert sorted(a.text for a in fig.layout.annotations) == sorted(
        f"label {i % 3}" for i in range(10)
    )
    assert fig.layout.height == 60 + 130 * 3  # three rows of four
    assert fig.layout.xaxis.showticklabels is False  # no pixel indices under the images
    colour = image_grid(torch.rand(2, 3, 4, 4), torch.tensor([5, 7]), title="rgb")
    assert len(colour.data) == 2 and colour.layout.height == 190
    with pytest.raises(ValueError, match="images"):
        image_grid(torch.rand(2, 4, 4), torch.tensor([0, 1]), title="x")
    with pytest.raises(ValueError, match="labels"):
        image_grid(images, torch.arange(3), title="x")


def _render(value: float) -> torch.Tensor:
    return torch.full((1, 3, 3), value)


def test_image_slider_figure_has_one_image_per_value() -> None:
    fig = image_slider_figure(
        _render, lambda v: f"ε = {v:.1f}", [0.0, 0.5, 1.0], title="t", active=1
    )
    assert [t.name for t in fig.data] == ["ε = 0.0", "ε = 0.5", "ε = 1.0"]
    assert [bool(t.visible) for t in fig.data] == [False, True, False]
    assert float(fig.data[2].z[0][0]) == 1.0 and fig.data[0].zmax == 1
    slider = fig.layout.sliders[0]
    assert slider.currentvalue.prefix == "ε = " and [s.label for s in slider.steps] == [
        "0.00",
        "0.50",
        "1.00",
    ]
    with pytest.raises(ValueError, match="render"):
        image_slider_figure(lambda v: torch.zeros(3, 3), str, [0.0], title="t")


def test_image_slider_widget_redraws_picture_and_caption() -> None:
    box = image_slider_widget(
        _render, lambda v: f"value {v:.2f}", value=0.25, low=0.0, high=1.0, step=0.25
    )
    slider, picture, caption, notice = box.children
    assert notice.value == LIVE_NOTICE  # the static page says it needs a kernel
    assert caption.value == "value 0.25" and picture.value == image_png(_render(0.25))
    slider.value = 0.75
    assert caption.value == "value 0.75" and picture.value == image_png(_render(0.75))


def test_data_summary_states_source_shapes_and_pixel_statistics() -> None:
    x = torch.tensor([0.0, 1.0, 0.0, 1.0]).reshape(1, 1, 2, 2).repeat(3, 1, 1, 1)
    splits = Splits(x, torch.zeros(3), x[:2], torch.zeros(2), "four-pixel stand-in")
    first, second = data_summary(splits).splitlines()
    assert first == "four-pixel stand-in"
    assert second == (
        f"train (3, 1, 2, 2), test (2, 1, 2, 2), pixel mean 0.5000, std {x.std():.4f}"
    )


def test_stored_run_line_names_script_time_commit_and_what_the_record_holds() -> None:
    record = {
        "profile": "cpu",
        "wall_s": 1500.0,
        "provenance": {"time_utc": "2026-01-01 00:00 UTC", "git_commit": "abc", "device": "cpu"},
    }
    assert stored_run_line(record, "bench/zoo_search.py") == (
        "stored run of bench/zoo_search.py: 2026-01-01 00:00 UTC, commit abc, profile cpu, "
        "cpu, 25 min"
    )
    bare = {"provenance": {"time_utc": "t", "git_commit": "c"}}
    assert stored_run_line(bare, "x.py") == "stored run of x.py: t, commit c"


def test_glue_facts_glues_sentences_as_markdown_and_numbers_as_they_are(monkeypatch) -> None:
    from IPython.display import Markdown

    glued = {}
    myst_nb = types.ModuleType("myst_nb")
    myst_nb.glue = lambda name, value, display: glued.update({name: (value, display)})
    monkeypatch.setitem(sys.modules, "myst_nb", myst_nb)
    glue_facts({"n": 3, "verdict": "holds"})
    assert glued["n"] == (3, False) and isinstance(glued["verdict"][0], Markdown)
    assert glued["verdict"][0].data == "holds"
    glue_facts({"n": 4, "made": Markdown("*x*")}, prefix="ch_")
    assert glued["ch_n"] == (4, False) and glued["ch_made"][0].data == "*x*"
    assert glued["n"] == (3, False)  # the unprefixed name is untouched
    glue("shown", 1.5)
    assert glued["shown"] == (1.5, True)
    glue("numpy", np.float64(0.25), display=False)  # its repr would be np.float64(0.25)
    assert glued["numpy"] == (0.25, False) and type(glued["numpy"][0]) is float


def test_glue_without_myst_nb_shows_the_value_only_when_asked(monkeypatch) -> None:
    """On Colab (no myst-nb) glue must not fail: it shows the value if asked, else nothing."""
    import IPython.display

    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb -> ModuleNotFoundError
    monkeypatch.setattr(IPython.display, "display", shown.append)
    glue_facts({"n": 3, "verdict": "holds"})
    glue("quiet", 2, display=False)
    assert shown == []
    glue("shown", 1.5)
    assert shown == [1.5]
