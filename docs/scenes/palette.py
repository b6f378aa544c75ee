"""The book's visual language in one place: clip colours, tensor-role colours, plot style.

Scenes (through bookscene.py), chapter notebooks (``import palette``) and page accents
(docs/_static/nanobook.css) share these values, so a tensor has the same colour in the
clip, the plot and the equation that names it. Deliberately free of Manim and
matplotlib imports: a notebook that only wants a colour pays for neither.
"""

# --- the brief's palette ----------------------------------------------------------------
BG = "#0f0f23"  # clip background
PANEL = "#1a1a3a"  # panels, cards
ACCENT = "#da7756"  # primary accent: active data, highlights
ACCENT_2 = "#f4a261"  # secondary accent
POSITIVE = "#4ade80"  # positive / result values
TEXT = "#ffffff"
TEXT_2 = "#888888"  # secondary text

# --- one colour per tensor role ---------------------------------------------------------
# Mid-luminance hues, legible on the dark clip background and on a white page. Roles that
# meet in one picture (ids/x, q/k/v/att, logits/probs/loss) get well-separated hues.
ROLE = {
    "ids": "#e5b547",  # tokens: the ids and the letters they stand for (gold), in every clip
    "x": "#5b8def",  # embeddings / residual stream (blue)
    "q": "#ec6f9a",  # queries (rose)
    "k": "#22b8cf",  # keys (cyan)
    "v": "#a07cf0",  # values (violet)
    "att": ACCENT_2,  # attention weights
    "logits": "#2dd4bf",  # logits (teal)
    "probs": POSITIVE,  # probabilities: the model's result
    "loss": "#f0605d",  # loss (red)
}

# Axes, ticks, labels and legends in plots: 5.3:1 on the white page; the dark page shows
# plots brighter (nanobook.css), which makes it 6:1 on near-black. No one grey reaches
# 4.5:1 on both (the old mid-grey #8a8a9a was 3.4:1 on white).
PLOT_INK = "#6a6a7a"
PLOT_CYCLE = [ACCENT, ROLE["x"], ROLE["logits"], ACCENT_2, ROLE["v"], ROLE["q"]]


def use_plot_style() -> None:
    """Make matplotlib figures readable in both the light and the dark page theme:
    transparent background, mid-grey ink, the palette as colour cycle."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(
        {
            "figure.facecolor": "none",
            "axes.facecolor": "none",
            "savefig.facecolor": "none",
            "savefig.transparent": True,
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 110,
            "font.size": 11,
            "text.color": PLOT_INK,
            "axes.edgecolor": PLOT_INK,
            "axes.labelcolor": PLOT_INK,
            "axes.titlecolor": PLOT_INK,
            "xtick.color": PLOT_INK,
            "ytick.color": PLOT_INK,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": PLOT_INK,
            "grid.alpha": 0.25,
            "legend.frameon": False,
            "lines.linewidth": 2.0,
            "axes.prop_cycle": cycler(color=PLOT_CYCLE),
            "image.cmap": "magma",
        }
    )
