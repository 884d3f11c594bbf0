"""The plotly renderer the book relies on, the slider twin, and the PNG helper."""

from __future__ import annotations

import io
import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from robustrep_lite.book.plots import RENDERER_NAME, image_png, setup_plotly, slider_figure


def test_setup_plotly_selects_our_renderer_outside_colab(monkeypatch) -> None:
    monkeypatch.delenv("PLOTLY_RENDERER", raising=False)
    assert setup_plotly() == RENDERER_NAME and pio.renderers.default == RENDERER_NAME
    monkeypatch.setenv("PLOTLY_RENDERER", "json")
    assert setup_plotly() == "json"
    assert setup_plotly("png") == "png"
    setup_plotly(RENDERER_NAME)


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
