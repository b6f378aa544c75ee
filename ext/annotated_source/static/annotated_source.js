// annotated-source: a note and the lines it explains light up together, from either side.
(() => {
  "use strict";

  function linesOf(block, note) {
    const [start, end] = note.dataset.asLines.split("-").map(Number);
    const lines = [];
    for (let n = start; n <= end; n += 1) {
      const line = block.querySelector(`#${CSS.escape(block.id)}-L${n}`);
      if (line) lines.push(line);
    }
    return lines;
  }

  function wire(block) {
    const notes = new Map();
    block.querySelectorAll(".as-note[data-as-lines]").forEach((note) => {
      notes.set(note.id, { note, lines: linesOf(block, note) });
    });
    const show = (id, on) => {
      const entry = notes.get(id);
      if (!entry) return;
      entry.note.classList.toggle("as-active", on);
      for (const line of entry.lines) line.classList.toggle("as-active", on);
    };
    notes.forEach(({ note }, id) => {
      note.addEventListener("mouseenter", () => show(id, true));
      note.addEventListener("mouseleave", () => show(id, false));
      note.addEventListener("focusin", () => show(id, true));
      note.addEventListener("focusout", () => show(id, false));
    });
    block.querySelectorAll(".as-line[data-as-notes]").forEach((line) => {
      const ids = line.dataset.asNotes.split(" ");
      for (const [event, on] of [
        ["mouseenter", true],
        ["mouseleave", false],
        ["focus", true],
        ["blur", false],
      ]) {
        line.addEventListener(event, () => {
          for (const id of ids) show(id, on);
        });
      }
    });
  }

  // The listing is one Tab stop. Inside it the arrow keys walk its notes, the links in
  // them and its lines (a folded stretch is its summary until opened): a roving
  // tabindex, so the stop is wherever the reader left off and Tab leaves the listing.
  const STOPS = ".as-note, .as-note a:not(.as-note-lines), .as-line, .as-fold > summary";
  const KEYS = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };

  function lineLabel(line) {
    const code = line.querySelector(".as-src").textContent.trim() || "blank";
    const parts = [`Line ${line.dataset.line}: ${code}`];
    const shape = line.querySelector(".as-shape");
    if (shape) parts.push(`shape ${shape.textContent}`);
    const value = line.querySelector(".as-value:not([hidden])");
    if (value) parts.push(value.textContent);
    return parts.join(". ");
  }

  function wireKeys(block) {
    const rows = block.querySelector(".as-rows");
    const all = [...rows.querySelectorAll(STOPS)].filter(
      (stop) => stop.tagName === "SUMMARY" || !stop.closest("summary"),
    );
    if (!all.length) return;
    // (a closed fold's lines still have boxes in Chromium: ask whether they are shown)
    const shown = (stop) =>
      stop.checkVisibility ? stop.checkVisibility() : stop.getClientRects().length > 0;
    const visible = () => all.filter(shown);
    let current = all[0];
    const settle = (stop) => {
      current.tabIndex = -1;
      current = stop;
      current.tabIndex = 0;
    };
    all.forEach((stop) => {
      stop.tabIndex = -1;
      if (stop.classList.contains("as-line")) stop.setAttribute("role", "group");
    });
    current.tabIndex = 0;

    const hint = document.createElement("span");
    hint.id = `${block.id}-keys`;
    hint.hidden = true;
    hint.textContent = "Arrow keys move through its notes and lines; Tab leaves it.";
    rows.after(hint);
    rows.setAttribute("aria-describedby", hint.id);

    rows.addEventListener("focusin", (event) => {
      const stop = event.target;
      if (!all.includes(stop)) return;
      if (stop.classList.contains("as-line")) stop.setAttribute("aria-label", lineLabel(stop));
      settle(stop);
    });
    rows.addEventListener("keydown", (event) => {
      const step = KEYS[event.key];
      if (step === undefined || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey)
        return;
      const stops = visible();
      const here = stops.indexOf(document.activeElement);
      if (here < 0) return;
      const next = stops[Math.max(0, Math.min(stops.length - 1, here + step))];
      event.preventDefault();
      next.focus();
    });
    // A fold closed over the stop would leave the listing with none: its summary takes it.
    rows.addEventListener(
      "toggle",
      (event) => {
        if (!event.target.open && event.target.contains(current)) {
          settle(event.target.querySelector(":scope > summary"));
        }
      },
      true,
    );
  }

  // Shapes as formulas (B×T×C), and shapes that follow a live widget's input. A shape's
  // formula is in data-formula; data-fixed marks one that no formula explains, which
  // keeps its captured value; data-defines one that is a symbol's own value (B, T, C =
  // x.size()), which stays a number ("B: 1", never "B: B"). The symbols and their values
  // are the build's (data-as-symbols); a product (B·T) follows its factors' live values.

  /** The symbols' names as one pattern, the longest first (3C before C); a one-letter
      name only as a word of its own. */
  function symbolPattern(symbols) {
    const names = Object.keys(symbols).sort((a, b) => b.length - a.length);
    const literal = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const words = names.map((name) => (name.length > 1 ? literal(name) : `\\b${name}\\b`));
    return new RegExp(words.join("|"), "g");
  }

  /** Every symbol's value for a live input's sizes ({B, T}). */
  function liveValues(symbols, sizes) {
    const values = { ...symbols, ...sizes };
    for (const name of Object.keys(symbols).filter((n) => n.includes("·"))) {
      values[name] = name.split("·").reduce((product, factor) => product * values[factor], 1);
    }
    return values;
  }

  /** A live region kept silent for `frames` frames: what is written meanwhile is shown,
      not said. */
  function quietFor(region, frames) {
    const before = region.getAttribute("aria-live");
    region.setAttribute("aria-live", "off");
    const wait = (n) =>
      n ? requestAnimationFrame(() => wait(n - 1)) : region.setAttribute("aria-live", before);
    wait(frames);
  }

  function wireShapes(block) {
    const holder = block.querySelector(".as-symbols");
    if (!holder) return;
    const symbols = JSON.parse(holder.dataset.asSymbols);
    const pattern = symbolPattern(symbols);
    const texts = [...block.querySelectorAll(".as-dims[data-formula]")];
    for (const text of texts) text.dataset.captured = text.textContent;
    const live = block.querySelector(".as-live");
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "as-symbols-toggle";
    toggle.setAttribute("aria-pressed", "false");
    toggle.textContent = "as B×T×C";
    toggle.title = "Shapes in the glossary's symbols (B, T, C, nh, hs, V, L)";
    holder.appendChild(toggle);
    let sizes = null; // {B, T} from a live widget, or null: the captured sample

    function render() {
      const asSymbols = toggle.getAttribute("aria-pressed") === "true";
      const values = sizes && liveValues(symbols, sizes);
      texts.forEach((text) => {
        const formula = text.dataset.formula;
        let shown = text.dataset.captured;
        if (asSymbols && !("defines" in text.dataset)) shown = formula;
        else if (values) shown = formula.replace(pattern, (name) => String(values[name]));
        const fixed = "fixed" in text.dataset && (asSymbols || Boolean(values));
        text.textContent = fixed ? `${shown} (as captured)` : shown;
        text.title = fixed
          ? "No formula in B, T, C… explains this shape: it is the captured one"
          : "";
      });
    }

    toggle.addEventListener("click", () => {
      const on = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", String(on));
      render();
    });
    document.addEventListener("nanobook:input", (event) => {
      const { model, batch, time } = event.detail || {};
      if (model !== holder.dataset.asPreset) return;
      const valid = Number.isInteger(batch) && Number.isInteger(time) && time > 0;
      sizes = valid ? { B: batch, T: time } : null;
      const said = sizes ? ` · for your input: B = ${batch}, T = ${time}` : "";
      // rewritten (and said again) only when the sizes change, not at each redraw
      if (live && live.textContent !== said) {
        // the first sizes are the widget's own first read, as it loads near the screen or
        // takes a model handed over far above: shown, not said (the reader typed nothing)
        if (!live.dataset.heard) quietFor(live, 2);
        live.dataset.heard = "yes";
        live.textContent = said;
      }
      render();
    });
  }

  // Live values: a live-attention widget says which query and head the reader chose
  // (event "nanobook:select", with the runtime's trace of that row). The lines of
  // CausalSelfAttention.forward that make the row each show it: the build marks them
  // (data-as-value: the trace's key; data-as-value-label: what the row is).

  function vector(row) {
    const shown = [...row].map((v) => (v === -Infinity ? "−∞" : v.toFixed(2).replace("-", "−")));
    return `[${shown.join(", ")}]`;
  }

  function wireValues(block) {
    const holder = block.querySelector(".as-symbols");
    if (!holder) return;
    const lines = [];
    for (const line of block.querySelectorAll(".as-line[data-as-value]")) {
      const value = document.createElement("span");
      value.className = "as-value";
      value.hidden = true;
      line.append(value);
      lines.push({ key: line.dataset.asValue, label: line.dataset.asValueLabel, value });
    }
    if (!lines.length) return;
    const said = document.createElement("span");
    said.className = "as-live as-live-values";
    // shown, not said: the widget that chose the row says the reader's choice itself
    said.setAttribute("aria-live", "off");
    holder.after(said);
    document.addEventListener("nanobook:select", (event) => {
      const { model, layer, head, query, token, rows } = event.detail || {};
      if (model !== holder.dataset.asPreset) return;
      for (const { key, label, value } of lines) {
        const row = rows?.[key];
        value.hidden = !row;
        if (row)
          value.textContent = `${label}, query ${query} (“${token}”), layer ${layer} head ${head}: ${vector(row)}`;
      }
      const line = rows
        ? ` · query ${query}, layer ${layer} head ${head}: its values are under the lines that make them`
        : "";
      if (said.textContent !== line) said.textContent = line;
    });
  }

  const start = () =>
    document.querySelectorAll(".annotated-source").forEach((block) => {
      wire(block);
      wireKeys(block);
      wireShapes(block);
      wireValues(block);
    });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
