"""Layout checks run inside a browser page, shared by the built-book test (tests/test_book.py) and
the figure-level test (tests/test_figure_layout.py).

* :data:`FIGURE_TEXT_JS`: in every drawn plotly figure of the page, the text boxes (tick labels,
  axis titles, figure title, annotations such as subplot titles, the slider's current-value
  label and step labels, legend items and legend title) must not overlap each other and must
  lie inside the figure's svg. Plotly draws only the current state of a slider (its active
  step), so this checks the state drawn: the step labels and the current-value label are all
  on the page, the traces of the other steps are not.
* :data:`CODE_SHARE_JS`: how much of a page's height is visible code.
"""

from __future__ import annotations

#: The width of a figure on a book page (the main column at the browser test's 1280 x 900
#: viewport): the figure-level test draws every figure this wide.
BOOK_FIGURE_WIDTH_PX = 688

#: Pixels two boxes may overlap (or a box may stick out of the figure) before it counts: the
#: glyph boxes of a browser's text include some empty space above and below the letters.
TEXT_TOLERANCE_PX = 1.5

#: Pixels of empty space required between two titles (figure title, axis titles, annotations
#: such as subplot titles, the slider's current-value label, the legend title): two subplot
#: titles 3 px apart read as one line.
TITLE_GAP_PX = 6.0

#: The largest share of a page's height that visible code input may take (see CODE_SHARE_JS).
MAX_CODE_SHARE = 0.15

# Called with [TEXT_TOLERANCE_PX, TITLE_GAP_PX]; returns one line per problem found.
# Each text element is taken as the rectangle getBBox() gives in its own coordinates, mapped to
# the page by getScreenCTM(), i.e. a quadrilateral that follows rotated labels (the axis-aligned
# getBoundingClientRect of two labels rotated by 30 degrees overlaps although the labels do
# not). Two quadrilaterals overlap when their projections overlap by more than the tolerance on
# each of the four edge directions (separating axis theorem for convex polygons).
FIGURE_TEXT_JS = r"""([tolerance, titleGap]) => {
  const KINDS = [
    ['x tick', 'g[class^="x"][class$="tick"] > text'],  // xtick, x2tick, ...
    ['y tick', 'g[class^="y"][class$="tick"] > text'],
    ['axis title', '.infolayer text[class$="title"]:not(.gtitle):not(.legendtitletext)'],
    ['figure title', 'text.gtitle'],
    ['annotation', 'g.annotation text.annotation-text'],
    ['slider value', 'g.slider-group > text.slider-label'],
    ['slider label', 'g.slider-label-group text'],
    ['legend item', 'text.legendtext'],
    ['legend title', 'text.legendtitletext'],
  ];
  const TITLES = new Set(['axis title', 'figure title', 'annotation', 'slider value',
                          'legend title']);
  const shown = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentNode) {
      const style = getComputedStyle(e);
      if (style.display === 'none' || style.visibility === 'hidden' || style.opacity === '0')
        return false;
    }
    return el.textContent.trim() !== '' && el.getBoundingClientRect().width > 0;
  };
  const quad = (el) => {
    const b = el.getBBox();
    const m = el.getScreenCTM();
    const [x0, y0, x1, y1] = [b.x, b.y, b.x + b.width, b.y + b.height];
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
      .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  };
  const axes = (q) => [0, 1].map(i => {
    const [dx, dy] = [q[i + 1][0] - q[i][0], q[i + 1][1] - q[i][1]];
    const n = Math.hypot(dx, dy) || 1;
    return [-dy / n, dx / n];
  });
  const depth = (p, q) => {  // the smallest overlap of the projections; <= 0: apart
    let least = Infinity;
    for (const [ax, ay] of [...axes(p), ...axes(q)]) {
      const pp = p.map(([x, y]) => x * ax + y * ay), qq = q.map(([x, y]) => x * ax + y * ay);
      least = Math.min(least, Math.min(Math.max(...pp), Math.max(...qq))
                                - Math.max(Math.min(...pp), Math.min(...qq)));
    }
    return least;
  };
  const name = (t) => `${t.kind} "${t.el.textContent.trim().slice(0, 40)}"`;
  const problems = [];
  const figures = [...document.querySelectorAll('.plotly-graph-div')];
  figures.forEach((gd, f) => {
    const svg = gd.querySelector('.main-svg');
    if (!svg) return;
    const box = svg.getBoundingClientRect();
    const seen = new Set();
    const texts = [];
    for (const [kind, selector] of KINDS) {
      for (const el of gd.querySelectorAll(selector)) {
        if (seen.has(el) || !shown(el)) continue;
        seen.add(el);
        texts.push({kind, el, q: quad(el)});
      }
    }
    const where = `figure ${f + 1}` + (gd.id ? ` (${gd.id.slice(0, 8)})` : '');
    for (const t of texts) {
      const xs = t.q.map(p => p[0]), ys = t.q.map(p => p[1]);
      const out = Math.max(box.left - Math.min(...xs), Math.max(...xs) - box.right,
                           box.top - Math.min(...ys), Math.max(...ys) - box.bottom);
      if (out > tolerance)
        problems.push(`${where}: ${name(t)} leaves the figure by ${out.toFixed(1)} px`);
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, b] = [texts[i], texts[j]];
        const d = depth(a.q, b.q);
        if (d > tolerance)
          problems.push(`${where}: ${name(a)} overlaps ${name(b)} by ${d.toFixed(1)} px`);
        else if (TITLES.has(a.kind) && TITLES.has(b.kind) && d > -titleGap)
          problems.push(`${where}: ${name(a)} and ${name(b)} are ${(-d).toFixed(1)} px apart`);
      }
    }
  });
  return problems;
}"""

# The measure: at the test's viewport, the summed height of the code-input boxes a reader sees
# (cell inputs that are not inside a closed <details> toggle, which is where the book theme
# puts the inputs of cells tagged hide-input; remove-input cells have no input on the page)
# divided by the height of the page's main article (prose, code, outputs and figures).
CODE_SHARE_JS = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const inputs = [...article.querySelectorAll('.cell_input')]
    .filter(e => !e.closest('details:not([open])') && e.getClientRects().length > 0);
  const code = inputs.reduce((sum, e) => sum + e.getBoundingClientRect().height, 0);
  const height = article.getBoundingClientRect().height;
  return {code: code, article: height, share: height > 0 ? code / height : 0, cells: inputs.length};
}"""
