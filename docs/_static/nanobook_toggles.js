// The header buttons the reader sees, made to work.
//
// The page has two sidebar toggles of each kind: one in the theme's top bar, which
// sphinx-book-theme hides, and one in the article's header, which the reader sees.
// pydata-sphinx-theme 0.20 (its drawers on narrow screens) and sphinx-book-theme 1.4
// (its collapse on wide ones, and the blur that drops a clicked button's tooltip) bind
// only the first of each, found by querySelector: the hidden one. So a tap on the visible
// button did nothing, and on a phone neither the book's contents nor the page's could be
// opened (pydata-sphinx-theme issue 2451, open in November 2026). Each visible button
// hands its click to the bound one. As the theme does for its own buttons, a click of the
// pointer leaves the button unfocused (a focused button shows its tooltip, which lies over
// the bar's other buttons and takes the next tap); from the keyboard (detail 0) the focus
// stays, and the drawer gives it back when it closes.
(() => {
  "use strict";
  for (const kind of ["primary-toggle", "secondary-toggle"]) {
    const [bound, ...shown] = document.querySelectorAll(`.${kind}`);
    for (const button of shown) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        if (event.detail !== 0) button.blur();
        bound.click();
      });
    }
  }

  // sphinx-book-theme blurs the colour-mode button on every click, to drop its tooltip;
  // from the keyboard that left its menu without focus (the arrows scrolled the page,
  // Escape did nothing). A click from the keyboard keeps the focus.
  for (const button of document.querySelectorAll(".theme-switch-button")) {
    button.addEventListener("click", (event) => {
      if (event.detail === 0) button.focus();
    });
  }

  // A screen without hover shows a tooltip on a tap and keeps it, over the buttons beside
  // it. There the tooltips go; each button keeps its label for screen readers.
  if (window.matchMedia("(hover: none)").matches) {
    window.addEventListener("load", () => {
      for (const button of document.querySelectorAll('[data-bs-toggle="tooltip"]')) {
        window.bootstrap?.Tooltip.getInstance(button)?.dispose();
      }
    });
  }
})();
