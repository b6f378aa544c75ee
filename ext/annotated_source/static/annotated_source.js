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
      entry.lines.forEach((line) => line.classList.toggle("as-active", on));
    };
    notes.forEach(({ note }, id) => {
      note.addEventListener("mouseenter", () => show(id, true));
      note.addEventListener("mouseleave", () => show(id, false));
      note.addEventListener("focusin", () => show(id, true));
      note.addEventListener("focusout", () => show(id, false));
    });
    block.querySelectorAll(".as-line[data-as-notes]").forEach((line) => {
      const ids = line.dataset.asNotes.split(" ");
      line.addEventListener("mouseenter", () => ids.forEach((id) => show(id, true)));
      line.addEventListener("mouseleave", () => ids.forEach((id) => show(id, false)));
    });
  }

  const start = () => document.querySelectorAll(".annotated-source").forEach(wire);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
