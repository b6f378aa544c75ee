// The run box names the book's wheel at the published site's address. Read from anywhere
// else (a local build, opened from disk or served), it names the wheel beside this page:
// the one this build made, which the published site may not have. pip installs from a
// file:// URL as from an http one. (The build keeps a long option such as --index-url on
// one line: ext/reader_notebooks.py, whole_options.)
"use strict";

(() => {
  for (const marker of document.querySelectorAll("[data-nanobook-wheel]")) {
    const published = marker.dataset.nanobookPublished;
    const here = new URL(marker.dataset.nanobookWheel, document.baseURI).href;
    const block = marker.closest(".nanobook-run")?.querySelector("pre");
    if (here === published || !block) continue;
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const text = walker.currentNode;
      if (text.data.includes(published)) text.data = text.data.replace(published, here);
    }
  }
})();
