"""The widgets' colours and layout (nanobook_live.css) in Debian's chromium, on a tiny
project with one widget of each kind that has a map, a chart, a pressed button or a button
beside its fields: contrast is computed from what the browser paints or computes (WCAG's
4.5:1 for text, 3:1 for a control's border and a map's cells), and the buttons beside
fields are placed by their boxes at a desktop's width and a phone's."""

from __future__ import annotations

import pytest
from pages import loaded_widget

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sphinx("html", testroot="live-styles", freshenv=True),
]

# A CSS colour as the page resolves it ("Highlight", "#rrggbb" -> "rgb(…)"), in the page
RESOLVED = """
const resolved = (colour) => {
  const probe = document.createElement("span");
  probe.style.color = colour;
  document.body.append(probe);
  const found = getComputedStyle(probe).color;
  probe.remove();
  return found;
};
"""

# WCAG's contrast of two CSS colours ("rgb(…)" or "#rrggbb"), in the page
CONTRAST = (
    RESOLVED
    + r"""
const luminance = (colour) => {
  const [r, g, b] = resolved(colour).match(/[\d.]+/g).map(Number);
  const linear = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
};
const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
};
const panel = (e) => getComputedStyle(e.closest(".nb-live")).backgroundColor;
"""
)


@pytest.fixture
def opened(open_test_root_page):
    """open_(scheme, width): the test root's page in chromium, every widget loaded; no
    script error allowed."""

    def open_(scheme: str, width: int = 1280):
        tab = open_test_root_page(color_scheme=scheme, viewport={"width": width, "height": 900})
        tab.evaluate(f"document.documentElement.dataset.theme = '{scheme}'")
        for widget in tab.locator(".nb-live:not(.nb-live-training)").all():
            loaded_widget(widget)
        tab.wait_for_timeout(500)  # the maps and charts drawn
        return tab

    return open_


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_playing_button_reads_at_wcag_contrast(opened, scheme):
    """Play turns to Pause on the accent (nb-live-playing, or aria-pressed): its text
    must read on it in both themes (white on the dark theme's accent was 2.1:1)."""
    tab = opened(scheme)
    ratios = tab.evaluate(
        CONTRAST
        + """
        [...document.querySelectorAll(".nb-live .nb-live-button")].map((b) => {
          b.classList.add("nb-live-playing");
          const style = getComputedStyle(b);
          const ratio = contrast(style.color, style.backgroundColor);
          b.classList.remove("nb-live-playing");
          return [b.textContent, ratio];
        })"""
    )
    assert len(ratios) >= 4  # sampling's, both replays', chat's Reply
    assert all(ratio >= 4.5 for _, ratio in ratios), ratios


def test_every_attention_map_stands_out_from_the_dark_panel(opened):
    """Every cell a map paints (a weight of 0 included: the triangle's edge) is at least
    3:1 against the panel in dark mode: the attention widget's maps, large and small, and
    the training replay's; and the training widget's maps take the same colours."""
    tab = opened("dark")
    found = tab.evaluate(
        CONTRAST
        + """
        [...document.querySelectorAll(".nb-live canvas")].filter((c) => c.width).map((c) => {
          const { data } = c.getContext("2d").getImageData(0, 0, c.width, c.height);
          let lowest = Infinity;
          const seen = new Set();
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] !== 255) continue;
            const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
            if (seen.has(key)) continue;
            seen.add(key);
            lowest = Math.min(lowest, contrast(`rgb(${data[i]},${data[i + 1]},${data[i + 2]})`,
              panel(c)));
          }
          return [c.closest(".nb-live").dataset.nanobookModel, lowest];
        })"""
    )
    models = {model for model, _ in found}
    assert {"sort", "sort-replay"} <= models, found
    assert all(lowest >= 3 for _, lowest in found), found
    # the training widget's maps (drawn once the reader trains) read the same colours
    same = tab.evaluate(
        """(() => {
          const root = document.querySelector(".nb-live-training");
          const maps = document.createElement("div");
          maps.className = "nb-training-maps";
          root.querySelector(".nb-live-body").append(maps);
          const [own, theirs] = [maps, root].map((e) => getComputedStyle(e));
          const names = ["--nb-live-empty", "--nb-live-ink"];
          const same = names.every((n) => own.getPropertyValue(n) === theirs.getPropertyValue(n));
          maps.remove();
          return same;
        })()"""
    )
    assert same


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_controls_border_stands_out_from_the_panel(opened, scheme):
    tab = opened(scheme)
    low = tab.evaluate(
        CONTRAST
        + """
        const controls = document.querySelectorAll(`.nb-live input[type=text],
          .nb-live input[type=number], .nb-live select, .nb-live button`);
        [...controls].filter((e) => e.offsetParent && getComputedStyle(e).borderTopWidth !== "0px")
          .map((e) => [e.tagName, e.className, e.textContent.slice(0, 20),
                       contrast(getComputedStyle(e).borderTopColor, panel(e))])"""
    )
    assert len(low) >= 10
    assert [c for c in low if c[-1] < 3] == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_checkboxes_and_sliders_take_the_widgets_ink(opened, scheme):
    """Not the browser's blue: a checked box or a slider's filled part is the ink the
    widget's other marks are drawn in."""
    tab = opened(scheme)
    found = tab.evaluate(
        """[...document.querySelectorAll(
            ".nb-live input[type=checkbox], .nb-live input[type=range]")]
          .map((e) => [getComputedStyle(e).accentColor,
                       getComputedStyle(e.closest(".nb-live")).getPropertyValue("--nb-live-ink")])"""
    )
    assert found
    ink = tab.evaluate(
        "(c) => { const s = document.createElement('span'); s.style.color = c;"
        " document.body.append(s); const v = getComputedStyle(s).color; s.remove(); return v; }",
        found[0][1].strip(),
    )
    assert {accent for accent, _ in found} == {ink}


def test_each_rl_chart_draws_pass_at_k_as_its_label_or_legend_says(opened):
    """The RL replay labels its pass@k line at its end, the RL training widget in a legend
    with a swatch: each line is drawn in its label's colour and its swatch's style."""
    tab = opened("light")
    replay = tab.evaluate(
        """(() => {
          const chart = document
            .querySelector(".nb-live-replay .nb-replay-chart polyline.nb-rl-passk")
            .closest("svg");
          const line = getComputedStyle(chart.querySelector(".nb-rl-passk"));
          const label = [...chart.querySelectorAll("text")].find((t) => /^pass@\\d+$/.test(
            t.textContent) && t.textContent !== "pass@1");
          const one = getComputedStyle(chart.querySelector(".nb-replay-accuracy")).stroke;
          return [line.stroke, getComputedStyle(label).fill, one];
        })()"""
    )
    stroke, label, pass1 = replay
    assert stroke == label and stroke != pass1, replay
    training = tab.evaluate(
        """(() => {
          // the chart and its legend come with the trainer, when the reader trains: made
          // here as nanobook_training_run.js makes them, their style is the same
          const widget = document.querySelector(".nb-live-training");
          const body = widget.querySelector(".nb-live-body");
          body.hidden = false;
          const svgNS = "http://www.w3.org/2000/svg";
          const chart = document.createElementNS(svgNS, "svg");
          chart.setAttribute("class", "nb-replay-chart nb-training-chart");
          const line = document.createElementNS(svgNS, "polyline");
          line.setAttribute("class", "nb-rl-passk");
          chart.append(line);
          const legend = document.createElement("ul");
          legend.className = "nb-training-legend";
          legend.innerHTML =
            '<li><span class="nb-training-swatch nb-rl-swatch-passk"></span>pass@k</li>';
          body.append(chart, legend);
          const drawn = getComputedStyle(line);
          const swatch = getComputedStyle(legend.querySelector(".nb-rl-swatch-passk"));
          const found = [drawn.stroke, swatch.borderTopColor, drawn.strokeDasharray,
                  swatch.borderTopStyle];
          chart.remove();
          legend.remove();
          body.hidden = true;
          return found;
        })()"""
    )
    assert training[0] == training[1] and training[3] == "dotted", training
    assert training[2].startswith("2px"), training  # dotted: a short dash


# Where a button is: its top and bottom, the bottoms of the controls on its line (beside
# it), and the lowest bottom of a field or control above it
PLACED = """(button) => {
  const box = button.getBoundingClientRect();
  const row = button.closest(".nb-live-controls");
  const controls = [...row.querySelectorAll("input, select")].map((c) => c.getBoundingClientRect());
  const beside = controls.filter((r) => r.top < box.bottom && r.bottom > box.top)
    .map((r) => r.bottom);
  const parts = [...row.querySelectorAll(".nb-live-field")].filter((f) => !f.contains(button))
    .map((f) => f.getBoundingClientRect());
  const above = Math.max(...[...parts, ...controls].map((r) => r.bottom)
    .filter((b) => b <= box.top + 1));
  return { top: box.top, bottom: box.bottom, beside, above };
}"""


def boxes(widget, *selectors):
    return [widget.locator(s).first.bounding_box() for s in selectors]


@pytest.mark.parametrize("width", [1280, 390])
def test_buttons_beside_fields_line_up_with_their_controls_or_wrap_without_a_gap(opened, width):
    """Play beside a replay's slider, Reply beside the chat's letters: bottom to bottom
    with the control when on its line; when it wraps, no empty label-high row above it.
    The chat's hint stays with the letters it is about."""
    tab = opened("dark", width)
    pairs = [
        (tab.locator(".nb-live-replay").nth(n), "input[type=range]", ".nb-live-button")
        for n in (0, 1)
    ]
    chat = tab.locator(".nb-live-chat")
    pairs.append((chat, "input[type=text]", ".nb-live-button"))
    for widget, control, button in pairs:
        where = widget.locator(button).first.evaluate(PLACED)
        if where["beside"]:  # bottom to bottom with the controls of the fields beside it
            assert all(abs(b - where["bottom"]) <= 1 for b in where["beside"]), where
        else:  # under them: the rows' gap (0.5rem) or the entry's (0.4rem), no more
            assert where["top"] - where["above"] <= 9, (control, where)
    letters, reply = boxes(chat, "input[type=text]", ".nb-live-button")
    if reply["y"] < letters["y"] + letters["height"]:  # Reply beside the letters it sends
        assert abs(reply["y"] + reply["height"] - letters["y"] - letters["height"]) <= 1
    hint = chat.locator(".nb-live-hint")
    assert hint.evaluate(
        "(h) => h.closest('.nb-live-field').contains("
        "h.closest('.nb-live-controls').querySelector('input[type=text]'))"
    )
    letters, said = boxes(chat, "input[type=text]", ".nb-live-hint")
    assert 0 <= said["y"] - (letters["y"] + letters["height"]) <= 60, (letters, said)
    assert tab.evaluate("document.documentElement.scrollWidth") <= width


# Each token of the chat's rows and legend: scored or not, its frame (border, outline)
TOKEN_FRAMES = (
    "() => {"
    + RESOLVED
    + """
  const highlight = resolved("Highlight");
  const tokens = document.querySelectorAll(".nb-live-chat .nb-chat-token");
  return { highlight, tokens: [...tokens].filter((t) => t.offsetParent).map((t) => {
    const s = getComputedStyle(t);
    return { scored: t.classList.contains("nb-chat-scored"), shade: s.backgroundColor,
             border: [s.borderTopColor, s.borderTopStyle, parseFloat(s.borderTopWidth)],
             outline: [s.outlineColor, s.outlineStyle, parseFloat(s.outlineWidth)] };
  }) };
}"""
)


def test_a_chats_scored_tokens_stay_marked_under_forced_colours(opened):
    """Windows' contrast themes (forced colours) drop the shading that marks the tokens
    the loss scores: those tokens are then framed in the system's Highlight, border and
    outline, where the others keep a frame in another colour and no outline."""
    tab = opened("light")
    shaded = tab.evaluate(TOKEN_FRAMES)
    scored = [t for t in shaded["tokens"] if t["scored"]]
    assert scored and all(t["shade"] != "rgba(0, 0, 0, 0)" for t in scored), shaded
    assert all(t["border"][0] != shaded["highlight"] for t in scored), shaded
    tab.emulate_media(forced_colors="active")
    assert tab.evaluate("matchMedia('(forced-colors: active)').matches")
    framed = tab.evaluate(TOKEN_FRAMES)
    highlight = framed["highlight"]
    scored = [t for t in framed["tokens"] if t["scored"]]
    others = [t for t in framed["tokens"] if not t["scored"]]
    assert len(scored) >= 2 and len(others) >= 2, framed  # the conversation's and the legend's
    for token in scored:
        assert token["border"] == [highlight, "solid", 2], token
        assert token["outline"] == [highlight, "solid", 1], token
    for token in others:
        assert token["border"][0] != highlight and token["outline"][1] == "none", token


# The attention strip's tokens: the weight the query gives each, and the bar drawn under
# it (its ::after: content, colour, width against the token's inner width); the tools'
# forced answer, in the completion and the legend: its fill and text colours
WEIGHTS_AND_FILLS = (
    "() => {"
    + RESOLVED
    + """
  const strip = document.querySelectorAll(".nb-live-attention .nb-live-token");
  return {
    highlight: resolved("Highlight"),
    highlightText: resolved("HighlightText"),
    strip: [...strip].map((t) => {
      const s = getComputedStyle(t);
      const bar = getComputedStyle(t, "::after");
      const inner = t.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
      return { weight: parseFloat(s.getPropertyValue("--nb-live-weight")), bar: bar.content,
               colour: bar.backgroundColor, length: parseFloat(bar.width) / inner };
    }),
    forced: [...document.querySelectorAll(".nb-live-tools .nb-tool-forced")].map((f) => {
      const s = getComputedStyle(f);
      return { fill: s.backgroundColor, text: s.color, adjust: s.forcedColorAdjust };
    }),
  };
}"""
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_attention_weights_and_a_forced_answer_stay_marked_under_forced_colours(opened, scheme):
    """Windows' contrast themes (forced colours) drop the tint that shows how much the
    chosen query attends to each token of the attention strip, and the fill of the tools'
    forced answer: the weight is then a bar in Highlight under each token, as long as the
    weight, and the forced answer filled in Highlight with HighlightText (in the dark
    theme too, whose own fill is set more specifically)."""
    tab = opened(scheme)
    tools = tab.locator(".nb-live-tools")
    tools.get_by_role("button", name="Run").click()
    tab.wait_for_function(
        """() => /Completion/.test(document.querySelector(".nb-live-tools .nb-live-readout")
                   .textContent)"""
    )
    tab.locator(".nb-live-attention .nb-live-token").nth(3).focus()
    plain = tab.evaluate(WEIGHTS_AND_FILLS)
    assert all(t["bar"] == "none" for t in plain["strip"]), plain  # the tint shows it
    assert len(plain["forced"]) >= 2, plain  # the answer's tokens and the legend's
    assert all(f["fill"] != plain["highlight"] for f in plain["forced"]), plain
    tab.emulate_media(forced_colors="active")
    assert tab.evaluate("matchMedia('(forced-colors: active)').matches")
    found = tab.evaluate(WEIGHTS_AND_FILLS)
    strip = found["strip"]
    assert any(t["weight"] > 0.05 for t in strip) and any(t["weight"] == 0 for t in strip)
    for token in strip:
        assert token["bar"] == '""' and token["colour"] == found["highlight"], token
        assert abs(token["length"] - token["weight"]) < 0.02, token
    assert len(found["forced"]) == len(plain["forced"])
    for forced in found["forced"]:
        assert forced == {
            "fill": found["highlight"],
            "text": found["highlightText"],
            "adjust": "none",
        }, found
