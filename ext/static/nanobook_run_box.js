// The run box names the book's wheel at the published site's address. Read from anywhere
// else (a local build, opened from disk or served), it names the wheel beside this page:
// the one this build made, which the published site may not have. pip installs from a
// file:// URL as from an http one. And a long option (--index-url) is kept whole: where a
// command wraps, on a phone, the line broke between its two hyphens, "-" ending one line
// and "-index-url" starting the next, as if a hyphen stood apart; the copied text is the same.
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

(() => {
  const whole = (option) => {
    const span = document.createElement("span");
    span.style.whiteSpace = "nowrap";
    span.textContent = option;
    return span;
  };
  for (const block of document.querySelectorAll(".nanobook-run pre")) {
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    for (const text of texts) {
      const parts = text.data.split(/(--[\w-]+)/);
      if (parts.length > 1)
        text.replaceWith(...parts.map((part, i) => (i % 2 ? whole(part) : part)));
    }
  }
})();
