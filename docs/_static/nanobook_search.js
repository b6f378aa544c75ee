/* The search page: a result found in a glossary entry shows that entry alone, "term:
   definition" (an entry is a few lines), instead of the 240 characters of page text
   around the word that Sphinx shows, which run one entry's end into the next one's
   term. And every snippet is cut from the page's article: Sphinx reads the text of the
   theme's [role=main], which also holds the article's header buttons ("System Settings
   Light Dark") and the "Contents" list of its sections, so a word in a section's title
   showed that list ("Heads Scores and the √hs scaling The causal mask Softmax and the
   weighted sum The code ...") rather than the prose. Loaded after searchtools.js, before
   the search starts (once the page loaded). A formula, drawn as an image, is read by its
   alt text, as a screen reader says it: the text without it read "softmax: : turns
   scores into..." and "The token table wte is  (and, ...". */
(() => {
  "use strict";

  if (typeof Search === "undefined") return;
  const pageSnippet = Search.makeSearchSummary;
  const pageText = Search.htmlToText;

  Search.htmlToText = (htmlString, anchor) => pageText(articleOnly(htmlString), anchor);

  // Results of equal score came in Sphinx's order for ties, by title as text, which put
  // "10. Scale" to "13. ..." before "4. Attention"; they now come in the book's order, a
  // chapter by its number (less than a point added: a higher score still comes first).
  Scorer.score = (result) => {
    const [, title, , , score] = result;
    const chapter = /^(\d+)\. /.exec(title);
    return chapter ? score + 0.5 - Number(chapter[1]) / 100 : score;
  };

  /** The page with its [role=main] holding the article alone (unchanged without one). */
  function articleOnly(htmlString) {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    const main = page.querySelector('[role="main"]');
    const article = main?.querySelector("article.bd-article");
    if (!article) return htmlString;
    formulasSaid(article);
    main.replaceChildren(article);
    return page.documentElement.outerHTML;
  }

  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const entry = glossaryEntry(htmlText, [...keywords], anchor);
    if (entry === null) return pageSnippet(htmlText, keywords, anchor);
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent = entry;
    return summary;
  };

  /** Each formula image of `root` replaced by its alt text. */
  function formulasSaid(root) {
    for (const formula of root.querySelectorAll("img.math[alt]")) {
      formula.replaceWith(root.ownerDocument.createTextNode(formula.alt));
    }
  }

  const said = (node) => {
    const copy = node.cloneNode(true);
    for (const link of copy.querySelectorAll(".headerlink")) link.remove();
    formulasSaid(copy);
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
