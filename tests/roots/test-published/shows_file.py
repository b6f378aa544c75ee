"""A directive that publishes a file of files/ into _live/ as its page is written, as the
live widgets publish their models (ext/published.py)."""

from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from ext import published


class shown_file(nodes.General, nodes.Element):
    pass


class ShowsFile(SphinxDirective):
    required_arguments = 1

    def run(self):
        self.env.note_dependency(str(Path(self.env.srcdir, "files", self.arguments[0])))
        return [shown_file(name=self.arguments[0])]


def visit(self, node):
    source = Path(self.builder.srcdir, "files", node["name"])
    published.copy(self.builder, source, "_live", node["name"])
    self.body.append(f'<a href="_live/{node["name"]}">{node["name"]}</a>')
    raise nodes.SkipNode


def setup(app):
    app.setup_extension("ext.published")
    app.add_node(shown_file, html=(visit, None))
    app.add_directive("shows-file", ShowsFile)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
