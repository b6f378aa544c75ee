/* The live-attention widget: the reader's prompt read by the model, each position's
   prediction, and every head's attention, one head large with its weights. Its input and
   chosen row are the nanobook:input and nanobook:select events annotated-source listens
   to. A model the reader trained in a live-training widget can take the book's model's
   place (event nanobook:model). Built on the helpers of nanobook_widgets.js.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, argmax, percent } = kit;

  /** The prompt's hint: what the model was trained on, then what the widget reads. */
  function hintText(model, options) {
    const trained = kit.trainedOn(options.trained);
    const most = model.config.block_size;
    if (!kit.shortEnoughToList(model.vocab)) return `${trained} Up to ${most} characters.`;
    const appended = options.answerAfter
      ? ` ${options.answerAfter} letters get the model's answer appended; from the last prompt letter on, each letter shows the model's guess for the next.`
      : "";
    return `${trained} Letters ${model.vocab.join(", ")}, up to ${most} of them.${appended}`;
  }

  /** The widget's parts: the prompt with its hint, the positions, the readout, the chosen
      head large and every head small. */
  function attentionView(widget, options) {
    const name = widget.root.dataset.nanobookModel;
    const input = kit.textInput(`${widget.id}-prompt`, options.prompt, {
      "aria-describedby": `${widget.id}-hint`,
    });
    const hint = kit.hint(`${widget.id}-hint`);
    widget.controls.append(
      element("label", { for: input.id, text: `Prompt for the ${name} model` }),
      input,
      hint,
    );
    const tokens = element("div", {
      className: "nb-live-tokens",
      role: "group",
      "aria-label": "Positions: choose a query",
    });
    // a key press says one thing: a new row the large map's value (this summary of the
    // chosen row, as its aria-valuetext), a move along the row the cell under the cursor
    // (the large map's line); shown here, the summary is not said
    const readout = element("p", { className: "nb-live-readout", "aria-live": "off" });
    const layers = element("div", {
      className: "nb-live-layers",
      role: "group",
      "aria-label": "Every head: the arrow keys move between them, Enter or Space shows one large",
    });
    // the chosen head, large, the reader's cursor on its cells
    const focus = kit.mapFigure(widget.id, { explore: true });
    widget.live.append(tokens, readout, focus.figure, layers);
    const note = kit.trainingNote(widget, input, readout); // under the reply: never in training?
    return { name, input, hint, tokens, readout, layers, focus, note };
  }

  /** Read the prompt with `model`: the new result, or the problem in the status line. */
  function read(w, model) {
    const { widget, options, view, state } = w;
    const text = kit.normalised(model, view.input);
    const problem = kit.problemWith(options.promptRule, model.name, text);
    kit.markInvalid(widget, view.input, Boolean(problem));
    view.note(problem ? null : options.trained, text);
    if (problem) {
      kit.write(widget.status, problem); // once, not at each key
      kit.hideStale(widget, true); // it read another prompt
      // nor do the sizes and values beside the source: they go back to B, T and no row
      widget.tell("input", {});
      widget.tell("select", {});
      return false;
    }
    const start = performance.now();
    let ids = model.encode(text);
    const typed = ids.length;
    if (ids.length === options.answerAfter) {
      // the build's rule (as in the chapters): the model reads the prompt followed by its
      // own greedy answer
      ids = model.generate(ids, { steps: model.config.block_size - ids.length, topK: 1 }).ids;
    }
    const forward = model.forward(ids, { trace: true });
    const probs = forward.logits.map((row) => model.probabilities(row));
    state.result = { ids, typed, forward, probs, model };
    // a model of fewer layers (the reader's) has no layer chosen in a deeper one
    state.layer = Math.min(state.layer, forward.attention.length - 1);
    state.query = Math.min(state.query, ids.length - 1);
    if (!widget.root.dataset.queried) state.query = ids.length - 1;
    kit.write(
      widget.status,
      typed < ids.length
        ? `Read with the model's answer “${model.decode(ids.slice(typed))}” appended.`
        : "",
    );
    kit.hideStale(widget, false);
    build(w, model);
    widget.announce({ ms: performance.now() - start });
    widget.tell("input", { batch: 1, time: ids.length });
    return true;
  }

  /** Position t's button: its token, and the model's guess for the next one. */
  function positionButton(w, model, t) {
    const { ids, typed, probs } = w.state.result;
    const id = ids[t];
    const best = argmax(probs[t]);
    // training scored only the answer's positions of a sort row (the loss ignores the
    // prompt's), so what the model "predicts" inside the prompt means nothing: not shown
    const scored = t >= w.options.firstScored;
    const button = element(
      "button",
      {
        type: "button",
        className: `nb-live-token${t >= typed ? " nb-live-answer" : ""}`,
        tabindex: t === w.state.query ? "0" : "-1",
        "aria-label":
          `position ${t}, ${model.shown[id]}${t >= typed ? " (the model's answer)" : ""}; ` +
          (scored
            ? `predicts ${model.shown[best]} at ${percent(probs[t][best])}`
            : "inside the prompt, where training scored no prediction"),
      },
      element("span", { className: "nb-live-tok", text: model.shown[id] }),
      element("span", {
        className: "nb-live-pred",
        text: scored ? `→${model.shown[best]}` : "·",
      }),
      element("span", {
        className: "nb-live-prob",
        text: scored ? percent(probs[t][best]) : "",
      }),
    );
    button.addEventListener("focus", () => choose(w, t));
    button.addEventListener("mouseenter", () => choose(w, t));
    button.addEventListener("keydown", (event) => {
      const next = { ArrowLeft: t - 1, ArrowRight: t + 1, Home: 0, End: ids.length - 1 }[event.key];
      if (next !== undefined && next >= 0 && next < ids.length) {
        event.preventDefault();
        w.view.tokens.children[next].focus();
      }
    });
    return button;
  }

  function build(w, model) {
    const { ids, forward } = w.state.result;
    const { tokens, layers } = w.view;
    tokens.replaceChildren(...ids.map((_, t) => positionButton(w, model, t)));
    const canvases = w.state.canvases;
    if (canvases.length !== forward.attention.length * forward.attention[0].length) {
      canvases.length = 0;
      kit.headGrid(layers, forward.attention, (l, h) => headCanvas(w, l, h));
    }
    draw(w);
  }

  // A small map is a button (the kit's, as the training widget's): pressing it shows that
  // head large; the pointer over a row of it chooses the head and that row's query.
  function headCanvas(w, l, h) {
    const { state } = w;
    const canvas = element("canvas", {
      className: "nb-live-map",
      role: "img",
      "aria-label": `Layer ${l}, head ${h}: show what the chosen position attends to in this head`,
    });
    canvas.addEventListener("mousemove", (event) => {
      const box = canvas.getBoundingClientRect();
      const t = Math.floor(((event.clientY - box.top) / box.height) * state.result.ids.length);
      if (t >= 0 && t < state.result.ids.length) choose(w, t, l, h);
    });
    state.canvases.push({ canvas, l, h });
    return kit.headButton(canvas, () => chooseHead(w, l, h));
  }

  /** The large map follows the pointer and the arrow keys over its cells. */
  function wireFocusMap(w) {
    const { state } = w;
    const focusMap = w.view.focus.map;
    // Where on the large map a point falls: the query row and key column, or null.
    function cellAt(event) {
      const box = focusMap.getBoundingClientRect();
      const { margin, cell } = focusMap.layout;
      const t = Math.floor((event.clientY - box.top - margin) / cell);
      const j = Math.floor((event.clientX - box.left - margin) / cell);
      const T = state.result.ids.length;
      return t >= 0 && t < T && j >= 0 && j <= t ? { t, j } : null;
    }
    focusMap.addEventListener("mousemove", (event) => {
      const at = state.result && focusMap.layout && cellAt(event);
      if (at) {
        state.key = at.j;
        choose(w, at.t);
      }
    });
    // the arrows move the cursor a cell; Home and End to the row's first and last key
    const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    focusMap.addEventListener("keydown", (event) => {
      const edge = { Home: -Infinity, End: Infinity }[event.key];
      const move = MOVES[event.key] ?? (edge === undefined ? undefined : [0, edge]);
      if (!move || !state.result) return;
      event.preventDefault(); // not the page's scrolling
      event.stopPropagation(); // nor a theme's arrow-key navigation
      const t = Math.max(0, Math.min(state.result.ids.length - 1, state.query + move[0]));
      state.key = Math.max(0, Math.min(t, state.key + move[1]));
      choose(w, t);
    });
  }

  function chooseHead(w, l, h) {
    w.state.layer = l;
    w.state.head = h;
    draw(w);
  }

  function choose(w, t, l = w.state.layer, h = w.state.head) {
    w.widget.root.dataset.queried = "yes";
    Object.assign(w.state, { query: t, layer: l, head: h });
    for (const [i, b] of [...w.view.tokens.children].entries()) {
      b.setAttribute("tabindex", i === t ? "0" : "-1");
    }
    draw(w);
  }

  /** Every head's small map, with the query's row marked and the chosen head pressed. */
  function drawHeads(w) {
    const { ids, forward } = w.state.result;
    const colours = kit.mapColours(w.widget.root);
    for (const { canvas, l, h } of w.state.canvases) {
      const context = kit.headMap(canvas, forward.attention[l][h], colours, 120);
      const cell = canvas.width / ids.length;
      const query = w.state.query;
      context.strokeStyle = colours.mark;
      context.lineWidth = Math.max(1, (window.devicePixelRatio || 1) * 1.5);
      context.strokeRect(0.5, query * cell + 0.5, (query + 1) * cell - 1, cell - 1);
      const chosen = l === w.state.layer && h === w.state.head;
      canvas.closest("figure").classList.toggle("nb-live-chosen", chosen);
      canvas.parentElement.setAttribute("aria-pressed", String(chosen));
    }
  }

  function draw(w) {
    if (!w.state.result) return;
    const { model, ids, forward } = w.state.result;
    const { query, layer, head } = w.state;
    const { tokens, readout, focus } = w.view;
    // the chosen head's weights for the query, on the keys in the token strip
    const weights = forward.attention[layer][head][query];
    [...tokens.children].forEach((button, j) => {
      button.style.setProperty("--nb-live-weight", j <= query ? weights[j].toFixed(3) : "0");
      button.classList.toggle("nb-live-query", j === query);
    });
    const parts = kit
      .ranked(weights.slice(0, query + 1), 3)
      .map((j) => `position ${j} “${model.shown[ids[j]]}” ${percent(weights[j])}`);
    const summary = `Position ${query} “${model.shown[ids[query]]}”, layer ${layer} head ${head}, attends most to ${parts.join(", ")}.`;
    // a new row is said by what chose it (the large map's value, a position's or a head's
    // button), and only a new key on the same row by the cell's line; a new key leaves
    // the summary as it was, not rewritten
    const newRow = readout.textContent !== summary;
    // kept off while a hand-over redraws the widget unheard (kit.quietly)
    focus.cell.setAttribute("aria-live", newRow || w.widget.quiet ? "off" : "polite");
    if (newRow) {
      readout.textContent = summary;
      focus.map.setAttribute("aria-valuetext", summary);
    }
    drawHeads(w);
    drawFocus(w, model);
    const traced = forward.trace.layers[layer].heads[head];
    w.widget.tell("select", {
      layer,
      head,
      query,
      token: model.shown[ids[query]],
      rows: {
        scores: traced.scores[query],
        masked: traced.masked[query],
        softmax: traced.softmax[query],
      },
    });
  }

  /** The large map's letters and cells at its drawn size; returns the cells' layout. */
  function focusGrid(w, model, rows) {
    const focusMap = w.view.focus.map;
    const letters = w.state.result.ids.map((id) => model.shown[id]);
    const drawn = kit.letteredMap(focusMap, rows, letters, w.widget.root, w.state.query);
    focusMap.layout = { margin: drawn.margin, cell: drawn.cell };
    return drawn;
  }

  function drawFocus(w, model) {
    const { ids } = w.state.result;
    const { title: focusTitle, map: focusMap, cell: cellReadout } = w.view.focus;
    const { query, layer, head } = w.state;
    const T = ids.length;
    const rows = w.state.result.forward.attention[layer][head];
    w.state.key = Math.min(w.state.key, query);
    const key = w.state.key;
    const { context, colours, margin, cell } = focusGrid(w, model, rows);
    context.strokeStyle = colours.mark;
    context.lineWidth = 2;
    context.strokeRect(margin + 1, margin + query * cell + 1, (query + 1) * cell - 2, cell - 2);
    context.lineWidth = 3;
    context.strokeRect(margin + key * cell + 1.5, margin + query * cell + 1.5, cell - 3, cell - 3);
    focusTitle.textContent = `Layer ${layer}, head ${head}: each row a query, each column a key it may attend to`;
    focusMap.setAttribute(
      "aria-label",
      `Layer ${layer}, head ${head}: ${T} queries by ${T} keys. Up and Down choose the query, its row; Left and Right move over its keys, Home and End to the row's first and last.`,
    );
    focusMap.setAttribute("aria-valuemax", String(T - 1));
    // the value counts rows from the bottom: Up, to the row above, raises it, as on any
    // vertical slider (the row itself is said in words, aria-valuetext)
    focusMap.setAttribute("aria-valuenow", String(T - 1 - query));
    focusMap.dataset.layer = layer;
    focusMap.dataset.head = head;
    const letter = (t) => model.shown[ids[t]];
    // rewritten only when it changes: a redraw of the same cell (a second read of the
    // same prompt, a head pressed again) said it again
    kit.write(
      cellReadout,
      `Query ${query} “${letter(query)}” → key ${key} “${letter(key)}”: weight ${rows[query][key].toFixed(3)}`,
    );
  }

  function attentionWidget(root, options) {
    const widget = kit.setUp(root, options);
    const view = attentionView(widget, options);
    // the result read, the chosen query, the large map's cursor (a key at or before the
    // query), the chosen layer and head, and every head's small map
    const state = { result: null, query: 0, key: 0, layer: 0, head: 0, canvases: [] };
    const w = { widget, options, view, state };
    wireFocusMap(w);
    const run = (book) => read(w, reading(book));
    const reading = kit.readersModel(widget, view.name, () => widget.ready(run));
    let pending = 0;
    view.input.addEventListener("input", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => widget.ready(run));
    });
    widget.redraw = () => draw(w);
    widget.onLoad((model) => {
      view.hint.textContent = hintText(model, options);
      run(model);
    });
    return widget;
  }

  kit.add("attention", attentionWidget);
})();
