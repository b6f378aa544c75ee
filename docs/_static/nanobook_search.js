/* The search page: a result found in a glossary entry shows that entry alone, "term:
   definition" (an entry is a few lines), instead of the 240 characters of page text
   around the word that Sphinx shows, which run one entry's end into the next one's
   term. Loaded after searchtools.js, before the search starts (once the page loaded). */
(() => {
  "use strict";

  if (typeof Search === "undefined") return;
  const pageSnippet = Search.makeSearchSummary;

  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const entry = glossaryEntry(htmlText, [...keywords], anchor);
    if (entry === null) return pageSnippet(htmlText, keywords, anchor);
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent = entry;
    return summary;
  };

  const said = (node) => {
    const copy = node.cloneNode(true);
    for (const link of copy.querySelectorAll(".headerlink")) link.remove();
    return copy.textContent.replace(/\s+/g, " ").trim();
  };

  /** The entry the anchor names, else the first whose term holds a keyword, else the
      first whose definition does, as "term: definition"; null when none matches. */
  function glossaryEntry(htmlText, keywords, anchor) {
    const page = new DOMParser().parseFromString(htmlText, "text/html");
    const words = keywords.map((word) => word.toLowerCase());
    const holds = (text) => words.some((word) => text.toLowerCase().includes(word));
    const entries = [...page.querySelectorAll('[role="main"] dl.glossary > dt')].map((term) => {
      let definition = term.nextElementSibling; // a dd, after any other terms of the entry
      while (definition && definition.tagName !== "DD") definition = definition.nextElementSibling;
      return { id: term.id, term: said(term), definition: definition ? said(definition) : "" };
    });
    const found =
      entries.find((entry) => anchor && `#${entry.id}` === anchor) ||
      entries.find((entry) => holds(entry.term)) ||
      entries.find((entry) => holds(entry.definition));
    return found ? `${found.term}: ${found.definition}` : null;
  }
})();
