"""Publishing helpers: a page's first clip poster as its og:image; a 404 page that works anywhere.

sphinxext-opengraph writes the OpenGraph tags; it takes a page's image from the page's
``og:image`` field when there is one. This handler runs just before it and, for pages
that show a clip, sets that field to the clip's poster (an absolute URL, as link
previews need), so a shared chapter link previews with its own animation's frame.
Pages without a clip keep the ``ogp_image`` fallback; an author's own ``og:image``
field always wins.

Every image in a page body loads lazily (``loading="lazy"``): docutils' images, math
and cell outputs alike, so what lies below the fold costs nothing until the reader nears
it.

The 404 page is served for any missing path, at any depth. sphinx-notfound-page makes
its theme links absolute (``notfound_urls_prefix``); the links in its body are made
absolute here the same way. Opened from disk, or served from a root other than the
published prefix, those links lead nowhere: a few lines of script in the page then point
them back at the page's own folder (the site root), stylesheets and scripts included.

sphinx-sitemap lists the pages each build writes, so an incremental build (livedocs, a
second `nox -s docs`) would publish a sitemap of the changed pages only: the pages not
written this time are added back before it writes the file.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from typing import Any
from urllib.parse import urljoin

from docutils import nodes
from sphinx_sitemap import is_excluded

# The <video> tag that manim-clip writes: poster and aria-label attributes.
_VIDEO_TAG = re.compile(r"<video\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(poster|aria-label)="([^"]*)"')

# Before sphinxext-opengraph (500), after sphinx-notfound-page (400).
PRIORITY = 450


def first_clip_poster(body: str) -> tuple[str, str] | None:
    """The (poster URL, alt text) of the first video with a poster in a page body."""
    for tag in _VIDEO_TAG.findall(body):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("poster"):
            return html.unescape(attributes["poster"]), html.unescape(
                attributes.get("aria-label", "")
            )
    return None


def set_og_image(app, pagename: str, templatename, context: dict[str, Any], doctree) -> None:
    meta = context.get("meta")
    if doctree is None or meta is None or "og:image" in meta:
        return
    found = first_clip_poster(context.get("body", ""))
    if not found or not app.config.ogp_site_url:
        return
    poster, alt = found
    # The poster's path is relative to the page; the tag needs it from the site root.
    page_dir = posixpath.dirname(app.builder.get_target_uri(pagename))
    from_root = posixpath.normpath(posixpath.join(page_dir, poster))
    image = {"og:image": urljoin(app.config.ogp_site_url, from_root)}
    if alt and "og:image:alt" not in meta:
        image["og:image:alt"] = alt
    # A copy: the environment's metadata must not change while pages are written.
    context["meta"] = {**meta, **image}


def absolute_404_links(app, doctree, docname: str) -> None:
    if docname != app.config.notfound_pagename or app.builder.format != "html":
        return
    prefix = app.config.notfound_urls_prefix or "/"
    for reference in doctree.findall(nodes.reference):
        uri = reference.get("refuri", "")
        if uri and not uri.startswith(("#", "/")) and "://" not in uri:
            reference["refuri"] = prefix + uri


# Rewrites the published prefix away where the 404 page is not under it (disk, a local
# server): stylesheets reload on their new href; scripts are added again, in order.
_LOCAL_404 = """<script>
document.addEventListener("DOMContentLoaded", function () {
  var prefix = %s;
  if (location.protocol !== "file:" && location.pathname.indexOf(prefix) === 0) return;
  document.querySelectorAll("[href], [src]").forEach(function (element) {
    var attribute = element.hasAttribute("src") ? "src" : "href";
    var url = element.getAttribute(attribute);
    if (url.indexOf(prefix) !== 0) return;
    url = url.slice(prefix.length) || "index.html";
    if (element.tagName !== "SCRIPT") return element.setAttribute(attribute, url);
    var script = document.createElement("script");
    script.src = url;
    script.async = false;
    document.body.appendChild(script);
  });
});
</script>"""


_EAGER_IMAGE = re.compile(r"<img\b(?![^>]*\bloading=)")


def lazy_images(app, pagename: str, templatename, context: dict[str, Any], doctree) -> None:
    if "body" in context:
        context["body"] = _EAGER_IMAGE.sub('<img loading="lazy"', context["body"])


def rescue_404_links(app, pagename: str, templatename, context: dict[str, Any], doctree) -> None:
    if pagename != app.config.notfound_pagename:
        return
    prefix = json.dumps(app.config.notfound_urls_prefix or "/")
    context["metatags"] = context.get("metatags", "") + _LOCAL_404 % prefix


def complete_sitemap(app, exception) -> None:
    links = getattr(app, "sitemap_links", None)
    if exception or links is None or app.builder.format != "html":
        return
    queued = []
    while not links.empty():
        queued.append(links.get_nowait())
    listed = {link for link, _ in queued}
    for docname in app.env.all_docs:
        link = app.builder.get_target_uri(docname)
        if link not in listed and not is_excluded(link, app.config.sitemap_excludes):
            queued.append((link, None))
    for entry in sorted(queued, key=lambda entry: entry[0]):  # a stable order, too
        links.put(entry)


def setup(app):
    app.setup_extension("sphinxext.opengraph")
    app.setup_extension("notfound.extension")
    app.setup_extension("sphinx_sitemap")
    app.connect("html-page-context", set_og_image, priority=PRIORITY)
    app.connect("doctree-resolved", absolute_404_links)
    app.connect("html-page-context", rescue_404_links)
    app.connect("html-page-context", lazy_images)
    app.connect("build-finished", complete_sitemap, priority=400)  # before sphinx-sitemap
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
