"""Plotting helpers: a plotly renderer that draws in Jupyter, in Colab and in the built book, and
the plotly-slider figure that is the static twin of an ipywidgets slider.

Why a renderer of our own: plotly 6+ inside a kernel emits only
``application/vnd.plotly.v1+json`` by default, which a static book cannot show (the figure is
silently blank). The ``"robustrep"`` renderer emits that JSON (JupyterLab, VS Code) *and* an
HTML ``<div>`` that calls the global ``Plotly`` object, which the book serves from its own
``_static`` folder (see ``book/_ext/offline_assets.py``), so no page needs a CDN.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import plotly.io as pio
import torch
from plotly.io._base_renderers import MimetypeRenderer, PlotlyRenderer

if TYPE_CHECKING:
    import ipywidgets

#: The name of the book's plotly renderer (:func:`setup_plotly` registers it).
RENDERER_NAME = "robustrep"
#: The name of the book's plotly template, which :func:`setup_plotly` lays over plotly's own.
TEMPLATE_NAME = "robustrep"
#: Pixels between the tick labels and the axis line: the labels of the x and the y axis then do
#: not meet where the axes cross (a ``0`` of each at the same corner, say).
TICK_LABEL_STANDOFF = 4


def book_template() -> go.layout.Template:
    """What the book changes in plotly's default template: tick labels
    :data:`TICK_LABEL_STANDOFF` pixels off every axis."""
    axis = {"ticklabelstandoff": TICK_LABEL_STANDOFF}
    return go.layout.Template(layout={"xaxis": axis, "yaxis": axis})


def use_book_template() -> str:
    """Make plotly's default template plus :func:`book_template` the default of every figure
    made from now on; return its name (``"plotly+robustrep"``)."""
    pio.templates[TEMPLATE_NAME] = book_template()
    pio.templates.default = f"plotly+{TEMPLATE_NAME}"
    return pio.templates.default


class BookRenderer(MimetypeRenderer):
    """Plotly JSON plus a plotly.js-free HTML div (plotly.js and MathJax come from the page)."""

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, Any]:
        html = pio.to_html(
            fig_dict,
            include_plotlyjs=False,
            include_mathjax=False,
            full_html=False,
            default_width="100%",
            default_height=460,
            validate=False,
        )
        bundle = PlotlyRenderer().to_mimebundle(fig_dict)
        bundle["text/html"] = html
        return bundle


def setup_plotly(renderer: str | None = None) -> str:
    """Choose the plotly renderer explicitly and return its name; from now on figures use the
    book's template (:func:`use_book_template`).

    ``renderer`` wins if given; else ``$PLOTLY_RENDERER``; else ``"colab"`` on Colab (which
    loads plotly.js itself); else our ``"robustrep"`` renderer (Jupyter, nbmake, the book).
    """
    if RENDERER_NAME not in pio.renderers:
        pio.renderers[RENDERER_NAME] = BookRenderer()
    use_book_template()
    if renderer is None:
        renderer = os.environ.get("PLOTLY_RENDERER") or (
            "colab" if "google.colab" in sys.modules else RENDERER_NAME
        )
    pio.renderers.default = renderer
    return renderer


#: Pixels a subplot's title stands above its plot (:func:`lift_subplot_titles`).
SUBPLOT_TITLE_LIFT = 8


def lift_subplot_titles(fig: go.Figure, size: int | None = None) -> go.Figure:
    """Raise the subplot titles of a ``make_subplots`` figure :data:`SUBPLOT_TITLE_LIFT`
    pixels, clear of the label of a tick at the top of a plot (half of which stands above the
    plot), and set their font ``size`` if given. Call it before adding other annotations:
    every annotation anchored at its bottom is taken for a subplot title."""
    font = {} if size is None else {"font": {"size": size}}
    return fig.update_annotations(selector={"yanchor": "bottom"}, yshift=SUBPLOT_TITLE_LIFT, **font)


#: Pixels between the bottom of the plot area and a slider: room for the x tick labels, and
#: for an x axis title below them where the figure has one.
SLIDER_PAD = 40
#: :data:`SLIDER_PAD` for a figure whose x axis has a title.
SLIDER_PAD_TITLED = 75


def slider_figure(
    steps: Sequence[tuple[str, Sequence[go.BaseTraceType]]],
    *,
    slider_label: str,
    active: int = 0,
    layout: dict[str, Any] | None = None,
    figure: go.Figure | None = None,
    pad: int | None = None,
) -> go.Figure:
    """A figure whose slider switches between precomputed trace sets, in pure JavaScript.

    ``steps`` is a list of ``(label, traces)``, one per slider position, each with the same
    number of traces; position ``i`` shows the traces of ``steps[i]``. Start from ``figure``
    (e.g. ``make_subplots``; traces then name their axes) or a blank one. The slider sits
    ``pad`` pixels below the plot area: by default :data:`SLIDER_PAD`, or
    :data:`SLIDER_PAD_TITLED` if an x axis has a title, so that its labels clear the axis's.
    The static twin of an ipywidgets slider: it keeps working in the static site, where
    widget callbacks cannot run. Raises ``ValueError`` on an empty list, a mismatched trace
    count or a bad ``active`` index.
    """
    if not steps:
        raise ValueError("steps must hold at least one (label, traces) pair")
    per_step = len(steps[0][1])
    if per_step == 0 or any(len(traces) != per_step for _, traces in steps):
        raise ValueError(
            "steps: every slider position must carry the same, non-zero number of traces"
        )
    if not 0 <= active < len(steps):
        raise ValueError(f"active must be in [0, {len(steps) - 1}], got {active}")
    fig = figure if figure is not None else go.Figure()
    for i, (_, traces) in enumerate(steps):
        for trace in traces:
            trace.visible = i == active
            fig.add_trace(trace)
    slider_steps = []
    for i, (label, _) in enumerate(steps):
        visible = [j // per_step == i for j in range(per_step * len(steps))]
        slider_steps.append({"label": label, "method": "restyle", "args": [{"visible": visible}]})
    fig.update_layout(**(layout or {}))
    if pad is None:
        titled = any(axis.title.text for axis in fig.select_xaxes())
        pad = SLIDER_PAD_TITLED if titled else SLIDER_PAD
    fig.update_layout(
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": f"{slider_label} = "},
                "pad": {"t": pad},
                "steps": slider_steps,
            }
        ]
    )
    return fig


def image_png(image: torch.Tensor, scale: int = 4) -> bytes:
    """PNG bytes of one image tensor (C, H, W) in [0, 1], upscaled ``scale`` times (nearest),
    for an ``ipywidgets.Image``. Raises ``ValueError`` for another shape or range."""
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(
            f"image must have shape (C, H, W) with C in (1, 3), got {tuple(image.shape)}"
        )
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("image values must be finite and in [0, 1]")
    from PIL import Image

    pixels = (image.detach().cpu() * 255).round().to(torch.uint8)
    pixels = pixels.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    array = pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_images(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have shape (N, C, H, W) with N >= 1 and C in (1, 3), "
            f"got {tuple(images.shape)}"
        )


def image_grid(
    images: torch.Tensor, labels: torch.Tensor, *, title: str, columns: int = 8
) -> go.Figure:
    """A grid of images (N, C, H, W) in [0, 1], ``columns`` per row, each titled with its
    label. Raises ``ValueError`` for another shape or a label count that differs from N."""
    import plotly.express as px

    _check_images(images)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"labels must hold one label per image ({len(images)}), got {labels.shape}"
        )
    if images.shape[1] == 1:
        pixels = images[:, 0].detach().cpu().numpy()
    else:  # RGB: (N, H, W, 3) bytes
        pixels = (images.detach().cpu().permute(0, 2, 3, 1) * 255).round().byte().numpy()
    wrap = min(columns, len(images))
    fig = px.imshow(pixels, facet_col=0, facet_col_wrap=wrap, binary_string=True, title=title)
    names = [int(label) for label in labels]
    fig.for_each_annotation(lambda a: a.update(text=f"label {names[int(a.text.split('=')[1])]}"))
    rows = -(-len(images) // wrap)
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)  # pixel indices
    fig.update_layout(height=60 + 130 * rows, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def image_slider_widget(
    render: Callable[[float], torch.Tensor],
    describe: Callable[[float], str],
    *,
    value: float,
    low: float,
    high: float,
    step: float,
    label: str = "ε",
) -> ipywidgets.VBox:
    """A live ipywidgets slider over a parameter from ``low`` to ``high`` in steps of ``step``
    (starting at ``value``), the image ``render(value)`` (C, H, W) in [0, 1] and the caption
    ``describe(value)``, both redrawn when the slider is released. Its static twin is
    :func:`image_slider_figure`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=label, continuous_update=False
    )
    picture = widgets.Image(value=image_png(render(slider.value)), format="png", width=168)
    caption = widgets.Label(value=describe(slider.value))

    def on_change(change: dict) -> None:
        picture.value = image_png(render(change["new"]))
        caption.value = describe(change["new"])

    slider.observe(on_change, names="value")
    return live_panel(slider, picture, caption)


def image_slider_figure(
    render: Callable[[float], torch.Tensor],
    describe: Callable[[float], str],
    values: Sequence[float],
    *,
    title: str,
    active: int = 0,
    label: str = "ε",
) -> go.Figure:
    """The static twin of :func:`image_slider_widget`: a plotly slider over ``values``, each
    position showing the grey-scale image ``render(value)`` (1, H, W) in [0, 1] with
    ``describe(value)`` as its hover name (:func:`slider_figure`)."""
    steps = []
    for v in values:
        image = render(v)
        if image.ndim != 3 or image.shape[0] != 1:
            raise ValueError(f"render must return a (1, H, W) image, got {tuple(image.shape)}")
        heatmap = go.Heatmap(
            z=image[0].detach().cpu().numpy()[::-1],
            colorscale="gray",
            zmin=0,
            zmax=1,
            showscale=False,
            name=describe(v),
        )
        steps.append((f"{v:.2f}", [heatmap]))
    return slider_figure(
        steps,
        slider_label=label,
        active=active,
        layout={
            "title": title,
            "height": 480,
            "width": 480,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False, "scaleanchor": "x"},
        },
    )


#: What every live control says on the page: it runs Python, so only a kernel makes it respond.
LIVE_NOTICE = (
    "<small><i>Live control: it runs Python, so it responds in Colab or Jupyter only. On the "
    "static page it is frozen at the state shown when the chapter ran; the figure above it is "
    "the interactive version that works here.</i></small>"
)


def live_panel(*controls: ipywidgets.Widget) -> ipywidgets.VBox:
    """The ipywidgets ``controls`` stacked, followed by :data:`LIVE_NOTICE`, so that a reader of
    the static book sees that the control needs a running kernel."""
    import ipywidgets as widgets

    return widgets.VBox([*controls, widgets.HTML(LIVE_NOTICE)])
