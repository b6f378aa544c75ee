"""Sphinx configuration for The Animated nanoGPT."""

import colorsys
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # ext/ and model_src/ import from the checkout
from buildlib import keys  # noqa: E402  (the path above)

keys.remember_loaded_code()  # key the code this build runs, even if a file changes meanwhile
from buildlib.book_build import CLIP_QUALITY_ENV  # noqa: E402
from buildlib.store import default_cache  # noqa: E402

CACHE = default_cache()
os.environ["NANOBOOK_CACHE_DIR"] = str(CACHE)  # for the notebooks' kernels and workers
# Code cells run in Jupyter kernels started by this process: they inherit the path.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO), str(REPO / "docs" / "scenes"), *filter(None, [os.environ.get("PYTHONPATH")])]
)

# Cells run in ext/jupyter's "python3" kernel: ipykernel's own (jupyter_client puts this
# Python in for "python"), logging only errors, so its start-up notice that the local
# connection is unencrypted TCP does not print a WARNING line per notebook.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [str(REPO / "ext" / "jupyter"), *filter(None, [os.environ.get("JUPYTER_PATH")])]
)

sys.path.insert(0, str(REPO / "docs" / "scenes"))
import palette  # noqa: E402  (the book's colours, shared with clips and plots)

project = "The Animated nanoGPT"
author = "The nanobook authors"
copyright = "2026, the nanobook authors"

extensions = [
    "myst_nb",
    "sphinx.ext.imgmath",
    "ext.math_images",  # imgmath's formulas typeset in one LaTeX run
    "sphinx_design",
    "sphinx_copybutton",
    "ext.manim_clip",
    "ext.arch_diagram",
    "ext.annotated_source",
    "ext.live_models",
    "ext.lean_theme",  # the theme's stylesheets and icon fonts cut to what the pages use
    "ext.reader_notebooks",  # each chapter as a notebook, and the box that offers it
    "ext.cell_bookkeeping",  # shown cells leave out glue() and the prose's asserts
    "ext.computed_marks",  # the dotted mark on glued values: whole if short, numerals if long
    "ext.cell_images",  # a figure a cell draws without an alt text is a warning
]

# --- sources --------------------------------------------------------------------------
exclude_patterns = ["_build", "jupyter_execute", "**/.ipynb_checkpoints", "scenes"]
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist", "substitution"]
myst_heading_anchors = 3

# Math is typeset while the book builds, with the LaTeX Manim already needs: no MathJax
# from a CDN, so pages work offline and request nothing from other hosts.
imgmath_image_format = "svg"
imgmath_use_preview = True  # baseline-aligned inline math
imgmath_font_size = 15
# Each glyph drawn as a path of its own: a formula's SVG is then the same bytes whether
# it is typeset alone or with the book's other formulas in one run (ext/math_images.py).
# Coordinates to 0.01 pt (a hundredth of a pixel) instead of six decimals: 38 % fewer bytes.
imgmath_dvisvgm_args = ["--no-fonts=1", "--precision=2"]


def _luminance(rgb: tuple[float, ...]) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _math_colour(hex_: str) -> str:
    """The role's hue and saturation at the lightest shade that still reads (WCAG 4.5:1)
    on the white page and, inverted by nanobook.css for dark mode, on the near-black one.
    Inverting keeps the hue and flips lightness, so a darker shade serves both."""
    rgb = tuple(int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, _, saturation = colorsys.rgb_to_hls(*rgb)

    def worst_contrast(lightness: float) -> float:
        ink = colorsys.hls_to_rgb(hue, lightness, saturation)
        on_white = 1.05 / (_luminance(ink) + 0.05)
        on_black = (_luminance([1 - c for c in ink]) + 0.05) / (_luminance([0.07] * 3) + 0.05)
        return min(on_white, on_black)

    best = max(step / 100 for step in range(20, 61) if worst_contrast(step / 100) >= 4.5)
    return "".join(f"{round(c * 255):02X}" for c in colorsys.hls_to_rgb(hue, best, saturation))


# Equations colour a tensor as the clips and plots do (\color{q}, \color{att}, ...), in
# the same hues at a lightness that stays legible in both page themes. The chapters'
# notebooks write the same colours as #RRGGBB (ext/reader_notebooks.py).
nanobook_math_colours = {role: _math_colour(hex_) for role, hex_ in palette.ROLE.items()}
imgmath_latex_preamble = "\\usepackage{xcolor}\n" + "".join(
    f"\\definecolor{{{role}}}{{HTML}}{{{hex_}}}\n" for role, hex_ in nanobook_math_colours.items()
)

# --- execution: every cell runs against the real model, cached by jupyter-cache -------
# jupyter-cache keys only on the cells' code, so each page executes with a cache named by
# what its cells read (ext/book.py's page_inputs): outside docs/, one per set of inputs.
nb_execution_mode = "cache"
nb_execution_cache_path = str(CACHE / "jupyter")  # pages use folders in it
# A failing cell is a warning at its line (ext/claims.py), and its page is published
# without what follows it; -W fails the build once every page is written.
nb_execution_raise_on_error = False
nb_execution_timeout = 900  # the first cell to ask for a trained model trains it
nb_execution_show_tb = True
nb_merge_streams = True  # one output box per cell, however its prints were flushed

# --- the book's extensions ------------------------------------------------------------
nanobook_cache_dir = str(CACHE)
nanobook_project_root = str(REPO)
DRAFT = os.environ.get(CLIP_QUALITY_ENV) == "draft"  # tests, livedocs, nox -s claims
# A GIF per clip, for embedding in other projects' READMEs; drafts skip it.
manim_clip_formats = [] if DRAFT else ["gif"]
# The Embed box under each clip (Markdown for a README) is for authors: drafts and
# `nox -s livedocs` show it, the published book leaves it out of its readers' way.
manim_clip_embed = DRAFT

# --- run a chapter yourself -------------------------------------------------------------
# The book's repository on GitHub ("https://github.com/ORG/REPO"), or None. Set, the theme
# offers its launch buttons (Colab, Binder), and the run box installs from it when the site
# publishes no wheel of its own (it does wherever html_baseurl is set, as here);
# None and no wheel, the box installs from a checkout.
nanobook_repository_url = None

# --- HTML -----------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "The Animated nanoGPT"
html_static_path = ["_static"]
templates_path = ["_templates"]  # layout.html: no search index on pages other than search;
# navbar-logo.html, search-button-field.html: the theme's, named and placed for screen readers
html_favicon = "_static/favicon.svg"  # the causal mask, in the palette
html_css_files = ["nanobook.css"]
# every page: the sidebar toggles the reader sees, bound to the theme's drawers
html_js_files = [("nanobook_toggles.js", {"defer": "defer"})]
html_sourcelink_suffix = ""  # a chapter's MyST source downloads as .md, not .md.txt
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,  # MyST source, notebook (ext.site), print
    "home_page_in_toc": True,
    # Off, pydata-sphinx-theme's default (0.20; its issue 1492): the arrow keys
    # would turn the page from a live widget's map, log or a button just pressed, losing a
    # reader's run, and screen readers need them.
    "navigation_with_keys": False,
}

# --- publishing: stable URLs, sharing metadata, sitemap, redirects, 404, linkcheck ------
extensions += [
    "sphinxext.opengraph",
    "sphinx_sitemap",
    "sphinx_reredirects",
    "notfound.extension",
    "ext.site",  # og:image from each page's first clip poster
]
# Where the book is published: the Pages workflow sets NANOBOOK_BASEURL (Read the Docs
# builds nothing; it serves that workflow's archive, Pages addresses and all). Canonical
# links, the sitemap, OpenGraph URLs and the 404 page's absolute links all follow it.
PUBLISHED_URL = "https://nanobook.readthedocs.io/en/latest/"
html_baseurl = (os.environ.get("NANOBOOK_BASEURL") or PUBLISHED_URL).rstrip("/") + "/"
sitemap_url_scheme = "{link}"
sitemap_excludes = ["404.html", "search.html", "genindex.html"]
ogp_site_url = html_baseurl
ogp_image = "_static/readme-attention.png"  # pages without a clip; ext.site uses the poster
ogp_image_alt = "The attention chapter of The Animated nanoGPT"
ogp_social_cards = {"enable": False}  # no matplotlib-drawn cards: posters say more
ogp_custom_meta_tags = ['<meta name="twitter:card" content="summary_large_image" />']
# docs/404.md, served for any missing path: its links must work from any depth.
notfound_urls_prefix = "/" + html_baseurl.split("://", 1)[-1].partition("/")[2]
# Pages that moved keep their old URLs: the chapters once lived at the top level.
redirects = {
    chapter.stem: f"chapters/{chapter.stem}.html"
    for chapter in sorted((REPO / "docs" / "chapters").glob("*.md"))
}
# `nox -s linkcheck`: anchors too; external links are listed (output.txt, "ignored")
# but fetched only with NANOBOOK_ONLINE=1, so the check works offline.
linkcheck_anchors = True
if os.environ.get("NANOBOOK_ONLINE") != "1":
    linkcheck_ignore = [r"https?://.*"]
# Follow the reader's light/dark preference. Left empty, the theme's script logs a
# console error ("invalid theme mode") on every page before falling back to the same.
html_context = {"default_mode": "auto"}

# Last, after every extension: the book's own steps around them (ext/book.py): train the
# models before pages are read, execute the notebooks, offer them to readers, summarise.
extensions += ["ext.book"]
