// The sidebar toggles the reader sees, made to work.
//
// The page has two buttons of each kind: one in the theme's top bar, which
// sphinx-book-theme hides, and one in the article's header, which the reader sees.
// pydata-sphinx-theme 0.20 (its drawers on narrow screens) and sphinx-book-theme 1.4
// (its collapse on wide ones) bind only the first of each, found by querySelector: the
// hidden one. So a tap on the visible button did nothing, and on a phone neither the
// book's contents nor the page's could be opened (pydata-sphinx-theme issue 2451, open in
// November 2026). Each visible button hands its click to the bound one; the drawer then
// returns focus to the visible button when it closes, as the theme does for its own.
(() => {
  "use strict";
  for (const kind of ["primary-toggle", "secondary-toggle"]) {
    const [bound, ...shown] = document.querySelectorAll(`.${kind}`);
    for (const button of shown) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
})();
