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

  /** The chosen head, large: query letters down the side, key letters along the top, a
      colour legend, and the weight of the cell under the pointer or the keyboard's cursor. */
  function focusFigure(id) {
    const title = element("figcaption", { className: "nb-live-focus-title" });
    const map = element("canvas", {
      className: "nb-live-focus-map",
      tabindex: "0",
      role: "img",
      "aria-describedby": `${id}-cell`,
    });
    const legend = element(
      "div",
      { className: "nb-live-legend", "aria-hidden": "true" },
      element("span", { text: "weight 0" }),
      element("span", { className: "nb-live-legend-bar" }),
      element("span", { text: "1" }),
    );
    const cell = element("p", {
      className: "nb-live-cell",
      id: `${id}-cell`,
      "aria-live": "polite",
    });
    const figure = element("figure", { className: "nb-live-focus" }, title, map, legend, cell);
    return { figure, title, map, cell };
  }

  /** The prompt's hint: what the model was trained on, then what the widget reads. */
  function hintText(model, trained) {
    const task = model.task || {};
    const most = model.config.block_size;
    if (model.vocab.length > 10) return `${kit.trainedOn(trained)} Up to ${most} characters.`;
    const appended = task.prompt_len
      ? ` ${task.prompt_len} letters get the model's answer appended; from the last prompt letter on, each letter shows the model's guess for the next.`
      : "";
    return `${kit.trainedOn(trained)} Letters ${model.vocab.join(", ")}, up to ${most} of them.${appended}`;
  }

  function attentionWidget(root, options) {
    const widget = kit.setUp(root, options);
    const name = root.dataset.nanobookModel;
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
    const readout = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const layers = element("div", {
      className: "nb-live-layers",
      role: "group",
      "aria-label": "Every head: choose one to show it large",
    });
    const focus = focusFigure(widget.id);
    const { title: focusTitle, map: focusMap, cell: cellReadout } = focus;
    widget.live.append(tokens, readout, focus.figure, layers);
    const note = kit.trainingNote(widget, input, readout); // under the reply: never in training?

    let result = null; // {ids, typed, forward, probs}
    let query = 0;
    let key = 0; // the large map's cursor: a key at or before the query
    let layerChosen = 0;
    let headChosen = 0;
    const canvases = [];

    function run(book) {
      const model = reading(book);
      const text = kit.normalised(model, input);
      const problem = kit.problemWith(model, text);
      input.setAttribute("aria-invalid", problem ? "true" : "false");
      note(problem ? null : options.trained, text);
      if (problem) {
        widget.status.textContent = problem;
        widget.live.classList.add("nb-live-stale");
        return;
      }
      const start = performance.now();
      let ids = model.encode(text);
      const typed = ids.length;
      const task = model.task || {};
      if (task.task === "sort" && ids.length === task.prompt_len) {
        // as in the chapters: the model reads the prompt followed by its own greedy answer
        ids = model.generate(ids, { steps: model.config.block_size - ids.length, topK: 1 }).ids;
      }
      const forward = model.forward(ids, { trace: true });
      const probs = forward.logits.map((row) => model.probabilities(row));
      result = { ids, typed, forward, probs, model };
      // a model of fewer layers (the reader's) has no layer chosen in a deeper one
      layerChosen = Math.min(layerChosen, forward.attention.length - 1);
      query = Math.min(query, ids.length - 1);
      if (!root.dataset.queried) query = ids.length - 1;
      widget.status.textContent =
        typed < ids.length
          ? `Read with the model's answer “${model.decode(ids.slice(typed))}” appended.`
          : "";
      widget.live.classList.remove("nb-live-stale");
      build(model);
      widget.announce({ ms: performance.now() - start });
      widget.tell("input", { batch: 1, time: ids.length });
    }

    function build(model) {
      const { ids, typed, forward, probs } = result;
      tokens.replaceChildren();
      // training scored only the answer's positions of a sort row (the loss ignores the
      // prompt's), so what the model "predicts" inside the prompt means nothing: not shown
      const firstScored = model.task?.prompt_len ? model.task.prompt_len - 1 : 0;
      ids.forEach((id, t) => {
        const best = argmax(probs[t]);
        const scored = t >= firstScored;
        const button = element(
          "button",
          {
            type: "button",
            className: `nb-live-token${t >= typed ? " nb-live-answer" : ""}`,
            tabindex: t === query ? "0" : "-1",
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
        button.addEventListener("focus", () => choose(t));
        button.addEventListener("mouseenter", () => choose(t));
        button.addEventListener("keydown", (event) => {
          const next = { ArrowLeft: t - 1, ArrowRight: t + 1, Home: 0, End: ids.length - 1 }[
            event.key
          ];
          if (next !== undefined && next >= 0 && next < ids.length) {
            event.preventDefault();
            tokens.children[next].focus();
          }
        });
        tokens.append(button);
      });
      if (canvases.length !== forward.attention.length * forward.attention[0].length) {
        canvases.length = 0;
        kit.headGrid(layers, forward.attention, headCanvas);
      }
      draw();
    }

    // A small map is a button: choosing it (or a row of it) shows that head large.
    function headCanvas(l, h) {
      const canvas = element("canvas", {
        className: "nb-live-map",
        tabindex: "0",
        role: "button",
        "aria-label": `Layer ${l}, head ${h}: show what the chosen position attends to in this head`,
      });
      canvas.addEventListener("click", () => chooseHead(l, h));
      canvas.addEventListener("focus", () => chooseHead(l, h));
      canvas.addEventListener("mousemove", (event) => {
        const box = canvas.getBoundingClientRect();
        const t = Math.floor(((event.clientY - box.top) / box.height) * result.ids.length);
        if (t >= 0 && t < result.ids.length) choose(t, l, h);
      });
      canvas.addEventListener("keydown", (event) => {
        const next = { ArrowUp: query - 1, ArrowDown: query + 1 }[event.key];
        if (next !== undefined && next >= 0 && next < result.ids.length) {
          event.preventDefault();
          choose(next);
        }
      });
      canvases.push({ canvas, l, h });
      return canvas;
    }

    // Where on the large map a point falls: the query row and key column, or null.
    function cellAt(event) {
      const box = focusMap.getBoundingClientRect();
      const { margin, cell } = focusMap.layout;
      const t = Math.floor((event.clientY - box.top - margin) / cell);
      const j = Math.floor((event.clientX - box.left - margin) / cell);
      const T = result.ids.length;
      return t >= 0 && t < T && j >= 0 && j <= t ? { t, j } : null;
    }

    focusMap.addEventListener("mousemove", (event) => {
      const at = result && focusMap.layout && cellAt(event);
      if (at) {
        key = at.j;
        choose(at.t);
      }
    });
    focusMap.addEventListener("keydown", (event) => {
      const move = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[
        event.key
      ];
      if (!move || !result) return;
      event.preventDefault();
      event.stopPropagation(); // the theme's arrow keys turn the page, except in controls
      const t = Math.max(0, Math.min(result.ids.length - 1, query + move[0]));
      key = Math.max(0, Math.min(t, key + move[1]));
      choose(t);
    });

    function chooseHead(l, h) {
      layerChosen = l;
      headChosen = h;
      draw();
    }

    function choose(t, l = layerChosen, h = headChosen) {
      root.dataset.queried = "yes";
      query = t;
      layerChosen = l;
      headChosen = h;
      for (const [i, b] of [...tokens.children].entries()) {
        b.setAttribute("tabindex", i === t ? "0" : "-1");
      }
      draw();
    }

    function draw() {
      if (!result) return;
      const model = result.model;
      const { ids, forward } = result;
      const colours = kit.mapColours(root);
      for (const { canvas, l, h } of canvases) {
        const context = kit.headMap(canvas, forward.attention[l][h], colours, 120);
        const cell = canvas.width / ids.length;
        context.strokeStyle = colours.mark;
        context.lineWidth = Math.max(1, (window.devicePixelRatio || 1) * 1.5);
        context.strokeRect(0.5, query * cell + 0.5, (query + 1) * cell - 1, cell - 1);
        const chosen = l === layerChosen && h === headChosen;
        canvas.parentElement.classList.toggle("nb-live-chosen", chosen);
        canvas.setAttribute("aria-pressed", chosen ? "true" : "false");
      }
      drawFocus(model);
      // the chosen head's weights for the query, on the keys in the token strip
      const weights = forward.attention[layerChosen][headChosen][query];
      [...tokens.children].forEach((button, j) => {
        button.style.setProperty("--nb-live-weight", j <= query ? weights[j].toFixed(3) : "0");
        button.classList.toggle("nb-live-query", j === query);
      });
      const parts = kit
        .ranked(weights.slice(0, query + 1), 3)
        .map((j) => `position ${j} “${model.shown[ids[j]]}” ${percent(weights[j])}`);
      readout.textContent = `Position ${query} “${model.shown[ids[query]]}”, layer ${layerChosen} head ${headChosen}, attends most to ${parts.join(", ")}.`;
      const traced = forward.trace.layers[layerChosen].heads[headChosen];
      widget.tell("select", {
        layer: layerChosen,
        head: headChosen,
        query,
        token: model.shown[ids[query]],
        rows: {
          scores: traced.scores[query],
          masked: traced.masked[query],
          softmax: traced.softmax[query],
        },
      });
    }

    function drawFocus(model) {
      const { ids, forward } = result;
      const T = ids.length;
      const rows = forward.attention[layerChosen][headChosen];
      key = Math.min(key, query);
      const size = focusMap.clientWidth || 320;
      const ratio = window.devicePixelRatio || 1;
      // a margin for the letters; every position labelled while a cell is 9 px or more
      const font = Math.max(10, Math.min(15, (size / (T + 1)) * 0.75));
      const margin = font * 1.6;
      const cell = (size - margin) / T;
      const every = Math.ceil(9 / cell);
      focusMap.layout = { margin, cell };
      focusMap.width = focusMap.height = Math.round(size * ratio);
      const context = focusMap.getContext("2d");
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.clearRect(0, 0, size, size);
      const colours = kit.mapColours(root);
      const text = getComputedStyle(root).color;
      context.font = `${font}px ${getComputedStyle(root).getPropertyValue("--pst-font-family-monospace") || "monospace"}`;
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillStyle = text;
      for (let t = 0; t < T; t++) {
        if (t % every && t !== query) continue;
        const letter = model.shown[ids[t]];
        context.fillText(letter, margin + (t + 0.5) * cell, margin / 2); // keys, along the top
        context.fillText(letter, margin / 2, margin + (t + 0.5) * cell); // queries, down the side
      }
      kit.heatCells(context, rows, colours, margin, margin, cell);
      context.strokeStyle = colours.mark;
      context.lineWidth = 2;
      context.strokeRect(margin + 1, margin + query * cell + 1, (query + 1) * cell - 2, cell - 2);
      context.lineWidth = 3;
      context.strokeRect(
        margin + key * cell + 1.5,
        margin + query * cell + 1.5,
        cell - 3,
        cell - 3,
      );
      focusTitle.textContent = `Layer ${layerChosen}, head ${headChosen}: each row a query, each column a key it may attend to`;
      focusMap.setAttribute(
        "aria-label",
        `Attention map of layer ${layerChosen}, head ${headChosen}: ${T} queries by ${T} keys. Arrow keys move over its cells.`,
      );
      focusMap.dataset.layer = layerChosen;
      focusMap.dataset.head = headChosen;
      const letter = (t) => model.shown[ids[t]];
      cellReadout.textContent = `Query ${query} “${letter(query)}” → key ${key} “${letter(key)}”: weight ${rows[query][key].toFixed(3)}`;
    }

    let pending = 0;
    input.addEventListener("input", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => widget.ready(run));
    });
    widget.redraw = draw;
    // A model the reader trained (nanobook_training.js says "nanobook:model") may read the
    // prompt in the book's model's place: a menu then chooses which one does.
    const theirs = { model: null, menu: null };
    const reading = (book) => (theirs.menu?.value === "reader" ? theirs.model : book);
    document.addEventListener("nanobook:model", (event) => {
      const { name: trained, model, label } = event.detail || {};
      if (trained !== name || !model) return;
      if (!theirs.menu) {
        theirs.menu = element("select", { id: `${widget.id}-model` });
        theirs.menu.append(element("option", { value: "book", text: `the book's ${name} model` }));
        theirs.menu.append(element("option", { value: "reader" }));
        theirs.menu.addEventListener("change", () => widget.ready(run));
        widget.controls.append(kit.field("Model", theirs.menu));
      }
      theirs.model = model;
      theirs.menu.lastChild.textContent = label;
      theirs.menu.value = "reader";
      widget.ready(run);
    });
    widget.onLoad((model) => {
      hint.textContent = hintText(model, options.trained);
      run(model);
    });
    return widget;
  }

  kit.add("attention", attentionWidget);
})();
