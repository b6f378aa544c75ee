"""Records, as each page is read, which of the theme's stylesheets the site has."""

import json
from pathlib import Path

from ext import lean_theme


def record(app, docname, source):
    names = [str(p.relative_to(app.outdir)) for p in lean_theme.stylesheets(Path(app.outdir))]
    Path(app.outdir, "while-reading.json").write_text(json.dumps(sorted(names)))


def setup(app):
    app.connect("source-read", record)
    return {"parallel_read_safe": True}
