/* The live-attention and live-sampling widgets, on top of nanobook_live.js.

   Each widget is a <section class="nb-live" data-live="{options}"> holding the static
   rendering made at build time. The controls appear at once; the model's script is
   added to the page only when the widget scrolls near the screen or the reader first
   uses a control, and the live rendering then takes the static one's place. Every
   problem (bad input, a model that cannot load) is said in the widget's status line.
   Each result fires a "nanobook:result" event on the widget (the bench times them).
   Kinds with a script of their own (nanobook_tools.js, nanobook_chat.js) build on
   nanobook.widgets.
*/
(() => {
  "use strict";
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  let counter = 0;

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function percent(p) {
    // exactly 0 (a token top-k cut) is said as 0, not as "<1%"
    if (p === 0) return "0%";
    return p >= 0.995 ? "100%" : p < 0.005 ? "<1%" : `${Math.round(p * 100)}%`;
  }

  /** The input as the model reads it: upper-cased when only its case keeps the model
      from reading it (the sort model knows A, B, C; "cbacab" means CBACAB). */
  function normalised(model, input) {
    const text = input.value;
    const upper = text.toUpperCase();
    const known = (t) => [...t].every((ch) => model.stoi.has(ch));
    if (upper !== text && !known(text) && known(upper)) input.value = upper;
    return input.value;
  }

  /** The likeliest token of a logits row: the first of ties, as torch's argmax. */
  function argmax(row) {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  }

  /** Why `text` cannot be read by `model`, or null (the same rules as compute.py). */
  function problemWith(model, text) {
    if (!text.length) return `Type a prompt: the ${model.name} model needs at least one token.`;
    const unknown = [...new Set([...text].filter((ch) => !model.stoi.has(ch)))];
    if (unknown.length) {
      const list = unknown.map((ch) => `“${ch}”`).join(", ");
      const vocab = model.vocab.length <= 10 ? ` It knows only ${model.vocab.join(", ")}.` : "";
      return `${list} ${unknown.length > 1 ? "are" : "is"} not in the ${model.name} model's vocabulary.${vocab}`;
    }
    const length = [...text].length;
    if (length > model.config.block_size) {
      return `The ${model.name} model reads at most ${model.config.block_size} tokens (its block_size); this prompt has ${length}.`;
    }
    return null;
  }

  function cssColour(root, name, fallback) {
    return getComputedStyle(root).getPropertyValue(name).trim() || fallback;
  }

  /** What every widget shares: the lazy model, the status line, the static rendering. */
  function setUp(root, options) {
    const id = `nb-live-${++counter}`;
    const status = element("p", {
      className: "nb-live-status",
      role: "status",
      "aria-live": "polite",
    });
    status.textContent = "The live model loads when you reach it.";
    const live = element("div", { className: "nb-live-body", hidden: "" });
    const staticPart = root.querySelector(".nb-live-static");
    root.prepend(element("div", { className: "nb-live-controls" }), status);
    root.append(live);
    let loading = null;
    let loaded;
    const whenLoaded = new Promise((resolve) => {
      loaded = resolve;
    });
    const widget = {
      id,
      root,
      options,
      status,
      live,
      controls: root.querySelector(".nb-live-controls"),
      model: null,
      /** Load the model (once), then run `callback(model)`. */
      ready(callback) {
        if (!loading) {
          const name = root.dataset.nanobookModel;
          // a model, or a plain record such as "sort-replay"
          const load = name.endsWith("-replay") ? nanobook.data : nanobook.model;
          status.textContent = name.endsWith("-replay")
            ? "Loading the training replay…"
            : `Loading the ${name} model…`;
          loading = load(name).then(
            (model) => {
              widget.model = model;
              staticPart.hidden = true;
              live.hidden = false;
              if (status.textContent.startsWith("Loading")) status.textContent = "";
              loaded(model);
              return model;
            },
            (error) => {
              status.textContent = `The live model is not available: ${error.message}. The table shows the book's example.`;
              loading = null;
              throw error;
            },
          );
        }
        loading.then(callback, () => {});
      },
      /** Run `callback(model)` once the model is in, without loading it. */
      onLoad(callback) {
        whenLoaded.then(callback);
      },
      announce(detail) {
        root.dispatchEvent(new CustomEvent("nanobook:result", { detail }));
      },
      /** Tell the rest of the page (annotated source) about the reader's input. */
      tell(type, detail) {
        document.dispatchEvent(
          new CustomEvent(`nanobook:${type}`, {
            detail: { model: root.dataset.nanobookModel, ...detail },
          }),
        );
      },
    };
    // first use, or the widget coming near the screen, loads the model
    root.addEventListener("focusin", () => widget.ready(() => {}), { once: true });
    if ("IntersectionObserver" in window) {
      const observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((entry) => entry.isIntersecting)) {
            observer.disconnect();
            widget.ready(() => {});
          }
        },
        { rootMargin: "200px" },
      );
      observer.observe(root);
    } else {
      widget.ready(() => {});
    }
    return widget;
  }

  // --- live-attention ---------------------------------------------------------------

  function attentionWidget(root, options) {
    const widget = setUp(root, options);
    const name = root.dataset.nanobookModel;
    const input = element("input", {
      type: "text",
      id: `${widget.id}-prompt`,
      value: options.prompt,
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      "aria-describedby": `${widget.id}-hint`,
    });
    const hint = element("span", { className: "nb-live-hint", id: `${widget.id}-hint` });
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
    // The chosen head, large: query letters down the side, key letters along the top, a
    // colour legend, and the weight of the cell under the pointer or the keyboard's cursor.
    const focusTitle = element("figcaption", { className: "nb-live-focus-title" });
    const focusMap = element("canvas", {
      className: "nb-live-focus-map",
      tabindex: "0",
      role: "img",
      "aria-describedby": `${widget.id}-cell`,
    });
    const legend = element(
      "div",
      { className: "nb-live-legend", "aria-hidden": "true" },
      element("span", { text: "weight 0" }),
      element("span", { className: "nb-live-legend-bar" }),
      element("span", { text: "1" }),
    );
    const cellReadout = element("p", {
      className: "nb-live-cell",
      id: `${widget.id}-cell`,
      "aria-live": "polite",
    });
    const focus = element(
      "figure",
      { className: "nb-live-focus" },
      focusTitle,
      focusMap,
      legend,
      cellReadout,
    );
    widget.live.append(tokens, readout, focus, layers);

    let result = null; // {ids, typed, forward, probs}
    let query = 0;
    let key = 0; // the large map's cursor: a key at or before the query
    let layerChosen = 0;
    let headChosen = 0;
    const canvases = [];

    function run(model) {
      const text = normalised(model, input);
      const problem = problemWith(model, text);
      input.setAttribute("aria-invalid", problem ? "true" : "false");
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
      result = { ids, typed, forward, probs };
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
        const best = probs[t].reduce((b, p, i) => (p > probs[t][b] ? i : b), 0);
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
        layers.replaceChildren();
        canvases.length = 0;
        forward.attention.forEach((heads, l) => {
          const row = element(
            "div",
            { className: "nb-live-layer" },
            element("p", { className: "nb-live-layer-name", text: `Layer ${l}` }),
          );
          heads.forEach((_, h) => {
            const canvas = element("canvas", {
              className: "nb-live-map",
              tabindex: "0",
              role: "button",
              "aria-label": `Layer ${l}, head ${h}: show what the chosen position attends to in this head`,
            });
            const figure = element(
              "figure",
              { className: "nb-live-head" },
              canvas,
              element("figcaption", { text: `head ${h}` }),
            );
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
            row.append(figure);
          });
          layers.append(row);
        });
      }
      draw();
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
      const model = widget.model;
      const { ids, forward } = result;
      const T = ids.length;
      const ink = cssColour(root, "--nb-live-ink", "#da7756");
      const empty = cssColour(root, "--nb-live-empty", "#eee");
      const mark = cssColour(root, "--nb-live-mark", "#000");
      for (const { canvas, l, h } of canvases) {
        const rows = forward.attention[l][h];
        const size = canvas.clientWidth || 120;
        const ratio = window.devicePixelRatio || 1;
        canvas.width = canvas.height = Math.round(size * ratio);
        const context = canvas.getContext("2d");
        const cell = canvas.width / T;
        context.clearRect(0, 0, canvas.width, canvas.height);
        for (let t = 0; t < T; t++) {
          for (let j = 0; j <= t; j++) {
            context.globalAlpha = 1;
            context.fillStyle = empty;
            context.fillRect(j * cell, t * cell, cell, cell);
            context.globalAlpha = Math.min(1, rows[t][j]);
            context.fillStyle = ink;
            context.fillRect(j * cell, t * cell, cell, cell);
          }
        }
        context.globalAlpha = 1;
        context.strokeStyle = mark;
        context.lineWidth = Math.max(1, ratio * 1.5);
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
      const ranked = [...weights.keys()]
        .filter((j) => j <= query)
        .sort((a, b) => weights[b] - weights[a])
        .slice(0, 3);
      const parts = ranked.map(
        (j) => `position ${j} “${model.shown[ids[j]]}” ${percent(weights[j])}`,
      );
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
      const ink = cssColour(root, "--nb-live-ink", "#da7756");
      const empty = cssColour(root, "--nb-live-empty", "#eee");
      const mark = cssColour(root, "--nb-live-mark", "#000");
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
      for (let t = 0; t < T; t++) {
        for (let j = 0; j <= t; j++) {
          context.globalAlpha = 1;
          context.fillStyle = empty;
          context.fillRect(margin + j * cell, margin + t * cell, cell, cell);
          context.globalAlpha = Math.min(1, rows[t][j]);
          context.fillStyle = ink;
          context.fillRect(margin + j * cell, margin + t * cell, cell, cell);
        }
      }
      context.globalAlpha = 1;
      context.strokeStyle = mark;
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
    const hintText = (model) => {
      const task = model.task || {};
      hint.textContent =
        model.vocab.length <= 10
          ? `Letters ${model.vocab.join(", ")}; ${task.prompt_len || 1} to ${model.config.block_size} of them${task.prompt_len ? ` (${task.prompt_len} letters get the model's answer appended). Under each letter: the letter the model predicts next, from the last prompt letter on (training scores no prediction inside the prompt).` : ""}`
          : `Up to ${model.config.block_size} characters.`;
    };
    widget.onLoad((model) => {
      hintText(model);
      run(model);
    });
    return widget;
  }

  // --- live-sampling ----------------------------------------------------------------

  const TOP_K_CHOICES = [1, 2, 3, 5, 10, 20, 40];
  const BARS = 10;

  function samplingWidget(root, options) {
    const widget = setUp(root, options);
    const name = root.dataset.nanobookModel;
    const id = widget.id;
    const field = (label, control, output) =>
      element(
        "div",
        { className: "nb-live-field" },
        element("label", { for: control.id, text: label }),
        control,
        ...(output ? [output] : []),
      );
    const prompt = element("input", {
      type: "text",
      id: `${id}-prompt`,
      value: options.prompt,
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
    });
    const [coldest, hottest] = options.ranges.temperature; // the directive's bounds
    const temperature = element("input", {
      type: "range",
      id: `${id}-temperature`,
      min: String(coldest),
      max: String(hottest),
      step: "0.05",
      value: String(options.temperature),
    });
    const temperatureShown = element("output", {
      for: temperature.id,
      text: Number(options.temperature).toFixed(2),
    });
    const [leastP, mostP] = options.ranges.topP; // mostP keeps every token: top-p off
    const topP = element("input", {
      type: "range",
      id: `${id}-topp`,
      min: String(leastP),
      max: String(mostP),
      step: "0.05",
      value: String(options.topP ?? mostP),
    });
    const topPShown = element("output", { for: topP.id });
    const topK = element("select", { id: `${id}-topk` });
    topK.append(element("option", { value: "", text: "off (all tokens)" }));
    const seed = element("input", {
      type: "number",
      id: `${id}-seed`,
      min: "0",
      step: "1",
      value: String(options.seed),
      inputmode: "numeric",
    });
    const stepButton = element("button", {
      type: "button",
      className: "nb-live-button",
      text: "Step",
    });
    const playButton = element("button", {
      type: "button",
      className: "nb-live-button",
      "aria-pressed": "false",
      text: "Play",
    });
    const resetButton = element("button", {
      type: "button",
      className: "nb-live-button",
      text: "Reset",
    });
    widget.controls.append(
      field(`Prompt for the ${name} model`, prompt),
      field("Temperature", temperature, temperatureShown),
      field("Top-k", topK),
      field("Top-p", topP, topPShown),
      field("Seed", seed),
      element("div", { className: "nb-live-buttons" }, stepButton, playButton, resetButton),
    );
    const text = element("p", { className: "nb-live-text", "aria-label": "Text so far" });
    const caption = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const bars = element("ol", {
      className: "nb-live-bars",
      "aria-label": "Next-token distribution at this step",
    });
    widget.live.append(text, caption, bars);

    let sampler = null;
    let filters = null; // the settings the sampler draws with
    let promptIds = [];
    let stepsDone = 0;
    let timer = 0;

    function settings(_model) {
      const k = topK.value === "" ? null : Number(topK.value);
      const p = Number(topP.value) >= mostP ? null : Number(topP.value);
      return { temperature: Number(temperature.value), topK: k, topP: p, seed: Number(seed.value) };
    }

    function showTopP() {
      const p = Number(topP.value);
      topPShown.textContent = p >= mostP ? "off" : p.toFixed(2);
      topP.setAttribute(
        "aria-valuetext",
        p >= mostP
          ? `${mostP}: off, every token kept`
          : `${p.toFixed(2)}: keep the likeliest tokens until they hold ${Math.round(p * 100)}%`,
      );
    }

    /** Which filter set token i to 0: "top-k", "top-p" or "" (kept). */
    function cutBy(i, probs, afterTopK) {
      return probs[i] > 0 ? "" : afterTopK[i] === 0 ? "top-k" : "top-p";
    }

    /** What top-p did at this step: how many tokens it kept, holding how much. */
    function topPSummary(probs, afterTopK) {
      if (filters.topP === null) return "";
      const kept = [...probs.keys()].filter((i) => probs[i] > 0);
      const offered = afterTopK.filter((p) => p > 0).length;
      const held = kept.reduce((sum, i) => sum + afterTopK[i], 0);
      return ` Top-p ${filters.topP.toFixed(2)} kept ${kept.length} of ${offered} tokens (${(held * 100).toFixed(1)}% of the probability) and cut ${offered - kept.length}.`;
    }

    function reset(model) {
      stop();
      const problem = problemWith(model, normalised(model, prompt));
      prompt.setAttribute("aria-invalid", problem ? "true" : "false");
      const seedValue = Number(seed.value);
      const badSeed = !(
        seed.value !== "" &&
        Number.isInteger(seedValue) &&
        seedValue >= 0 &&
        seedValue < 2 ** 32
      );
      seed.setAttribute("aria-invalid", badSeed ? "true" : "false");
      sampler = null;
      if (problem || badSeed) {
        widget.status.textContent = problem || "The seed is a whole number from 0 to 4294967295.";
        widget.live.classList.add("nb-live-stale");
        return;
      }
      widget.status.textContent = "";
      widget.live.classList.remove("nb-live-stale");
      promptIds = model.encode(prompt.value);
      filters = settings(model);
      sampler = model.sampler(promptIds, filters);
      stepsDone = 0;
      text.replaceChildren(element("span", { className: "nb-live-prompt", text: prompt.value }));
      bars.replaceChildren();
      caption.textContent = `Press Step to draw one token, or Play for ${options.steps}.`;
    }

    function step(model) {
      if (!sampler) return false;
      if (stepsDone >= options.steps) reset(model);
      const start = performance.now();
      const { probs, token, logits } = sampler.step();
      stepsDone++;
      // whitespace lays the text out; a token that prints nothing shows as the book prints it
      const drawn = /^\s+$/.test(model.vocab[token]) ? model.vocab[token] : model.shown[token];
      text.append(element("span", { className: "nb-live-drawn", text: drawn }));
      // ranked as temperature alone would have them, so the tokens top-k and top-p cut show
      const { temperature: t, topK: k } = filters;
      const before = model.probabilities(logits, { temperature: t });
      const afterTopK = model.probabilities(logits, { temperature: t, topK: k });
      const ranked = [...before.keys()].sort((a, b) => before[b] - before[a]).slice(0, BARS);
      if (!ranked.includes(token)) ranked[ranked.length - 1] = token;
      bars.replaceChildren(
        ...ranked.map((i) => {
          const cut = cutBy(i, probs, afterTopK);
          return element(
            "li",
            {
              className: `nb-live-bar${i === token ? " nb-live-bar-drawn" : ""}${cut ? " nb-live-bar-cut" : ""}`,
              style: `--nb-live-p: ${probs[i].toFixed(4)}`,
            },
            element("span", { className: "nb-live-bar-token", text: model.shown[i] }),
            element("span", { className: "nb-live-bar-fill", "aria-hidden": "true" }),
            element("span", {
              className: "nb-live-bar-p",
              text: percent(probs[i]) + (i === token ? " drawn" : ""),
            }),
            element("span", { className: "nb-live-bar-why", text: cut && `${cut} cut` }),
          );
        }),
      );
      caption.textContent =
        `Step ${stepsDone} of ${options.steps}: drew “${model.shown[token]}” (${percent(probs[token])}).` +
        topPSummary(probs, afterTopK);
      widget.announce({ ms: performance.now() - start });
      return stepsDone < options.steps;
    }

    function stop() {
      clearTimeout(timer);
      timer = 0;
      playButton.textContent = "Play";
      playButton.setAttribute("aria-pressed", "false");
    }

    function play(model) {
      if (timer) return stop();
      if (!sampler || stepsDone >= options.steps) reset(model);
      if (!sampler) return;
      if (reducedMotion.matches) {
        while (step(model)); // no animation: the whole run at once
        return;
      }
      playButton.textContent = "Pause";
      playButton.setAttribute("aria-pressed", "true");
      const tick = () => {
        if (step(model)) timer = setTimeout(tick, 120);
        else {
          stop();
          timer = 0;
        }
      };
      tick();
    }

    temperature.addEventListener("input", () => {
      temperatureShown.textContent = Number(temperature.value).toFixed(2);
      widget.ready(reset);
    });
    topP.addEventListener("input", () => {
      showTopP();
      widget.ready(reset);
    });
    showTopP();
    for (const control of [prompt, seed, topK])
      control.addEventListener("input", () => widget.ready(reset));
    stepButton.addEventListener("click", () => widget.ready((model) => step(model)));
    playButton.addEventListener("click", () => widget.ready(play));
    resetButton.addEventListener("click", () => widget.ready(reset));
    widget.onLoad((model) => {
      for (const k of TOP_K_CHOICES.filter((k) => k < model.config.vocab_size)) {
        topK.append(element("option", { value: String(k), text: String(k) }));
      }
      topK.value = options.topK === null ? "" : String(options.topK);
      if (topK.value === "" && options.topK !== null) {
        topK.append(element("option", { value: String(options.topK), text: String(options.topK) }));
        topK.value = String(options.topK);
      }
      reset(model);
    });
    return widget;
  }

  // --- training-replay ----------------------------------------------------------------

  function svg(tag, attributes) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  }

  function svgLabel(chart, text, attributes) {
    const node = svg("text", attributes);
    node.textContent = text;
    chart.append(node);
  }

  /** What both replays share: a step slider and a Play button (Next step with reduced
      motion) over the recorded snapshots. start(count, draw) once the record is in;
      draw(at) shows snapshot `at`. */
  function stepper(widget, sliderLabel) {
    const slider = element("input", {
      type: "range",
      id: `${widget.id}-step`,
      min: "0",
      max: "0",
      step: "1",
      value: "0",
    });
    const stepShown = element("output", { for: slider.id });
    const playButton = element("button", {
      type: "button",
      className: "nb-live-button",
      "aria-pressed": "false",
      text: reducedMotion.matches ? "Next step" : "Play",
    });
    let at = 0;
    let timer = 0;
    let count = 0;
    let draw = () => {};

    function show(index) {
      at = index;
      slider.value = String(at);
      draw(at);
    }

    function stop() {
      clearTimeout(timer);
      timer = 0;
      playButton.textContent = reducedMotion.matches ? "Next step" : "Play";
      playButton.setAttribute("aria-pressed", "false");
    }

    function play() {
      if (timer) return stop();
      if (at >= count - 1) at = 0;
      if (reducedMotion.matches) {
        // no running animation: each press shows the next recorded step
        show(at + 1);
        return;
      }
      playButton.textContent = "Pause";
      playButton.setAttribute("aria-pressed", "true");
      const tick = () => {
        show(at);
        if (at < count - 1) {
          at += 1;
          timer = setTimeout(tick, 600);
        } else stop();
      };
      tick();
    }

    slider.addEventListener("input", () =>
      widget.ready(() => {
        stop();
        show(Number(slider.value));
      }),
    );
    playButton.addEventListener("click", () => widget.ready(play));
    widget.controls.append(
      element(
        "div",
        { className: "nb-live-field nb-replay-slider" },
        element("label", { for: slider.id, text: sliderLabel }),
        slider,
        stepShown,
      ),
      element("div", { className: "nb-live-buttons" }, playButton),
    );
    return {
      stepShown,
      /** Say which recorded step is shown, beside the slider and to a screen reader. */
      say(step, last) {
        stepShown.textContent = `${step} of ${last}`;
        slider.setAttribute("aria-valuetext", `step ${step} of ${last}`);
      },
      start(snapshots, drawAt) {
        count = snapshots;
        draw = drawAt;
        slider.max = String(count - 1);
        show(0);
      },
      redraw() {
        if (count) draw(at);
      },
    };
  }

  /** The sort model while it learned: a step slider (and play) over the build's snapshots. */
  function replayWidget(root, options) {
    if (options.run === "rl") return rlReplayWidget(root, options);
    const widget = setUp(root, options);
    const id = widget.id;
    const steps = stepper(widget, "Training step");
    const probe = element("select", { id: `${id}-probe` });
    widget.controls.lastChild.before(
      element(
        "div",
        { className: "nb-live-field" },
        element("label", { for: probe.id, text: "Held-out prompt" }),
        probe,
      ),
    );
    const summary = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    chart.setAttribute("class", "nb-replay-chart");
    chart.setAttribute("role", "img");
    const sequence = element("div", {
      className: "nb-live-tokens",
      role: "list",
      "aria-label": "The prompt and the model's prediction at each answer position",
    });
    const layers = element("div", { className: "nb-live-layers" });
    widget.live.append(summary, chart, sequence, layers);

    let replay = null;
    let at = 0;

    /** Loss (left axis, log scale) over every logged step; accuracy (right axis) at the snapshots. */
    function drawChart() {
      const { curve, snapshots, max_iters: last } = replay;
      // drawn in CSS pixels of the chart's own width, so its labels keep their size on a phone
      const width = Math.max(300, Math.round(chart.getBoundingClientRect().width) || 600);
      chart.setAttribute("viewBox", `0 0 ${width} 168`);
      const [left, right, top, bottom] = [52, width - 44, 12, 140];
      const x = (step) => left + ((right - left) * step) / last;
      const losses = curve.map(([, loss]) => loss);
      const [low, high] = [Math.log(Math.min(...losses)), Math.log(Math.max(...losses))];
      const y = (loss) => bottom - ((bottom - top) * (Math.log(loss) - low)) / (high - low || 1);
      const yAccuracy = (a) => bottom - (bottom - top) * a;
      const snapshot = snapshots[at];
      chart.replaceChildren(
        svg("line", { x1: left, y1: bottom, x2: right, y2: bottom, class: "nb-replay-axis" }),
        svg("polyline", {
          points: curve.map(([s, loss]) => `${x(s)},${y(loss)}`).join(" "),
          class: "nb-replay-loss",
        }),
        svg("polyline", {
          points: snapshots.map((s) => `${x(s.step)},${yAccuracy(s.accuracy)}`).join(" "),
          class: "nb-replay-accuracy",
        }),
        svg("line", {
          x1: x(snapshot.step),
          y1: top,
          x2: x(snapshot.step),
          y2: bottom,
          class: "nb-replay-now",
        }),
      );
      const label = (text, attributes) => svgLabel(chart, text, attributes);
      const near = x(snapshot.step) > (left + right) / 2;
      label(`step ${snapshot.step}`, {
        x: x(snapshot.step) + (near ? -6 : 6),
        y: top + 12,
        "text-anchor": near ? "end" : "start",
        class: "nb-replay-now-label",
      });
      label("loss (log scale)", { x: left, y: bottom + 20, class: "nb-replay-loss-label" });
      label("accuracy", {
        x: right,
        y: bottom + 20,
        "text-anchor": "end",
        class: "nb-replay-accuracy-label",
      });
      label(Math.max(...losses).toFixed(2), { x: left - 4, y: top + 4, "text-anchor": "end" });
      label(String(Number(Math.min(...losses).toPrecision(2))), {
        x: left - 4,
        y: bottom + 4,
        "text-anchor": "end",
      });
      label("100%", { x: right + 4, y: top + 4 });
      label("0%", { x: right + 4, y: bottom + 4 });
      chart.setAttribute(
        "aria-label",
        `Training loss falling over ${last} steps and held-out accuracy rising; the current step ${snapshot.step} is marked.`,
      );
    }

    function drawStep() {
      const snapshot = replay.snapshots[at];
      steps.say(snapshot.step, replay.max_iters);
      const p = Number(probe.value);
      const vocab = replay.vocab;
      const rowLength = replay.probes[p].length;
      const promptLength = replay.prompt_len;
      const loss =
        snapshot.loss === null
          ? "before the first update"
          : `training loss ${snapshot.loss.toFixed(3)}`;
      summary.textContent = `Step ${snapshot.step}: ${loss}, held-out accuracy ${percent(snapshot.accuracy)}.`;
      drawChart();
      // the probe: each position's letter, and below the answer positions what the model predicts
      sequence.replaceChildren();
      for (let t = 0; t < rowLength; t++) {
        const predicted = snapshot.prediction[p][t];
        const answer = t >= promptLength - 1;
        const right = predicted === replay.targets[p][t];
        const cell = element(
          "div",
          {
            className: `nb-live-token${answer ? (right ? " nb-replay-right" : " nb-replay-wrong") : ""}`,
            role: "listitem",
            "aria-label":
              `position ${t}, ${vocab[replay.probes[p][t]]}` +
              (answer
                ? `; predicts ${vocab[predicted]} at ${percent(snapshot.probability[p][t])}, ${right ? "right" : "wrong"}`
                : ""),
          },
          element("span", { className: "nb-live-tok", text: vocab[replay.probes[p][t]] }),
          element("span", {
            className: "nb-live-pred",
            text: answer ? `→${vocab[predicted]}` : "",
          }),
          element("span", {
            className: "nb-live-prob",
            text: answer ? percent(snapshot.probability[p][t]) : "",
          }),
        );
        sequence.append(cell);
      }
      // every head's attention on the probe, at this step
      const ink = cssColour(root, "--nb-live-ink", "#da7756");
      const empty = cssColour(root, "--nb-live-empty", "#eee");
      layers.querySelectorAll("canvas").forEach((canvas) => {
        const rows = snapshot.attention[p][canvas.dataset.layer][canvas.dataset.head];
        const size = canvas.clientWidth || 100;
        const ratio = window.devicePixelRatio || 1;
        canvas.width = canvas.height = Math.round(size * ratio);
        const context = canvas.getContext("2d");
        const cell = canvas.width / rows.length;
        context.clearRect(0, 0, canvas.width, canvas.height);
        for (const [t, row] of rows.entries()) {
          for (const [j, weight] of row.entries()) {
            context.globalAlpha = 1;
            context.fillStyle = empty;
            context.fillRect(j * cell, t * cell, cell, cell);
            context.globalAlpha = Math.min(1, weight);
            context.fillStyle = ink;
            context.fillRect(j * cell, t * cell, cell, cell);
          }
        }
        const strongest = rows.map((row) => row.indexOf(Math.max(...row)));
        canvas.setAttribute(
          "aria-label",
          `Layer ${canvas.dataset.layer}, head ${canvas.dataset.head} at step ${snapshot.step}: the key each position attends to most, in order: ${strongest.join(", ")}`,
        );
      });
      widget.announce({ step: snapshot.step });
    }

    widget.onLoad((loaded) => {
      replay = loaded;
      for (const [p, row] of replay.probes.entries()) {
        const text = row
          .slice(0, replay.prompt_len)
          .map((i) => replay.vocab[i])
          .join("");
        probe.append(element("option", { value: String(p), text }));
      }
      replay.snapshots[0].attention[0].forEach((heads, l) => {
        const row = element(
          "div",
          { className: "nb-live-layer" },
          element("p", { className: "nb-live-layer-name", text: `Layer ${l}` }),
        );
        heads.forEach((_, h) => {
          const canvas = element("canvas", {
            className: "nb-live-map",
            role: "img",
            "data-layer": String(l),
            "data-head": String(h),
          });
          row.append(
            element(
              "figure",
              { className: "nb-live-head" },
              canvas,
              element("figcaption", { text: `head ${h}` }),
            ),
          );
        });
        layers.append(row);
      });
      steps.start(replay.snapshots.length, (index) => {
        at = index;
        drawStep();
      });
    });
    probe.addEventListener("change", () => widget.ready(drawStep));
    widget.redraw = () => replay && drawStep();
    return widget;
  }

  /** The sort model's RL run: held-out pass@1 and pass@k over the steps, and the group of
      answers the model sampled for one prompt at each recorded step, with rewards and
      advantages (model_src/rl_runs.py records it). */
  function rlReplayWidget(root, options) {
    const widget = setUp(root, options);
    const steps = stepper(widget, "RL step");
    const summary = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const chart = svg("svg", { class: "nb-replay-chart", role: "img" });
    const group = element("div", { className: "nb-rl-group" });
    widget.live.append(summary, chart, group);
    let replay = null;
    const pct = (p) => `${(p * 100).toFixed(1)}%`;

    function drawChart(at) {
      const { snapshots, max_iters: last, k } = replay;
      const width = Math.max(300, Math.round(chart.getBoundingClientRect().width) || 600);
      chart.setAttribute("viewBox", `0 0 ${width} 168`);
      const [left, right, top, bottom] = [40, width - 64, 12, 140];
      const x = (step) => left + ((right - left) * step) / last;
      const y = (p) => bottom - (bottom - top) * p;
      const line = (key, cls) =>
        svg("polyline", {
          points: snapshots.map((s) => `${x(s.step)},${y(s[key])}`).join(" "),
          class: cls,
        });
      const now = snapshots[at];
      chart.replaceChildren(
        svg("line", { x1: left, y1: bottom, x2: right, y2: bottom, class: "nb-replay-axis" }),
        line(`pass@${k}`, "nb-rl-passk"),
        line("pass@1", "nb-replay-accuracy"),
        svg("line", {
          x1: x(now.step),
          y1: top,
          x2: x(now.step),
          y2: bottom,
          class: "nb-replay-now",
        }),
      );
      const end = snapshots[snapshots.length - 1];
      svgLabel(chart, `pass@${k}`, { x: right + 6, y: y(end[`pass@${k}`]) - 4 });
      svgLabel(chart, "pass@1", {
        x: right + 6,
        y: y(end["pass@1"]) + 14,
        class: "nb-replay-accuracy-label",
      });
      svgLabel(chart, "100%", { x: left - 4, y: top + 4, "text-anchor": "end" });
      svgLabel(chart, "0%", { x: left - 4, y: bottom + 4, "text-anchor": "end" });
      svgLabel(chart, `RL step (${last} in all)`, { x: left, y: bottom + 20 });
      const first = snapshots[0];
      chart.setAttribute(
        "aria-label",
        `Held-out pass@1 going from ${pct(first["pass@1"])} to ${pct(end["pass@1"])} over ${last} RL steps, and pass@${k} from ${pct(first[`pass@${k}`])} to ${pct(end[`pass@${k}`])}; step ${now.step} is marked.`,
      );
    }

    function drawGroup(snapshot) {
      const word = (ids) => ids.map((i) => replay.vocab[i]).join("");
      if (!snapshot.answers) {
        group.replaceChildren(
          element("p", {
            className: "nb-live-caption",
            text: "Step 0: the model before any update, so no group yet. Move the slider on.",
          }),
        );
        return;
      }
      const largest = Math.max(...snapshot.advantages.map(Math.abs)) || 1;
      const list = element("ul", {
        className: "nb-rl-answers",
        "aria-label": `The ${snapshot.answers.length} answers sampled for the prompt ${word(snapshot.prompt)}`,
      });
      snapshot.answers.forEach((answer, i) => {
        const reward = snapshot.rewards[i];
        const advantage = snapshot.advantages[i];
        const push =
          advantage > 0 ? "made likelier" : advantage < 0 ? "made less likely" : "left alone";
        const side = (sign) =>
          element("span", {
            className: `nb-rl-${sign > 0 ? "pos" : "neg"}`,
            style: `--nb-rl-w: ${(sign * advantage > 0 ? Math.abs(advantage) / largest : 0).toFixed(3)}`,
          });
        list.append(
          element(
            "li",
            {
              className: `nb-rl-answer ${reward ? "nb-replay-right" : "nb-replay-wrong"}`,
              "aria-label": `${word(answer)}: reward ${reward}, advantage ${advantage.toFixed(3)}, ${push}`,
            },
            element("span", { className: "nb-rl-word", text: word(answer) }),
            element("span", { className: "nb-rl-reward", text: reward ? "1 ✓" : "0 ✗" }),
            element("span", { className: "nb-rl-bar", "aria-hidden": "true" }, side(-1), side(1)),
            element("span", {
              className: "nb-rl-advantage",
              text: `${advantage > 0 ? "+" : ""}${advantage.toFixed(3)}`,
            }),
          ),
        );
      });
      group.replaceChildren(
        element("p", {
          className: "nb-live-caption",
          text: `The first group of step ${snapshot.step}: prompt ${word(snapshot.prompt)}, the ${snapshot.answers.length} answers the model sampled, the checker's reward and each answer's advantage (reward minus the group's mean).`,
        }),
        list,
      );
    }

    function draw(at) {
      const snapshot = replay.snapshots[at];
      const k = replay.k;
      steps.say(snapshot.step, replay.max_iters);
      const reward =
        snapshot.mean_reward === undefined
          ? "before the first update"
          : `mean reward over the step's ${replay.prompts} groups ${pct(snapshot.mean_reward)}`;
      summary.textContent = `Step ${snapshot.step}: held-out pass@1 ${pct(snapshot["pass@1"])}, pass@${k} ${pct(snapshot[`pass@${k}`])}; ${reward}.`;
      drawChart(at);
      drawGroup(snapshot);
      widget.announce({ step: snapshot.step });
    }

    widget.onLoad((loaded) => {
      replay = loaded;
      steps.start(replay.snapshots.length, draw);
    });
    widget.redraw = steps.redraw;
    return widget;
  }

  // --- predict-check ------------------------------------------------------------------

  /** The model's answer to a question, worked out in the browser, with what shows it. */

  /** The likeliest next token's share at the question's temperature: the choice nearest it. */
  function temperatureAnswer(model, question) {
    const ids = model.encode(question.input);
    const logits = [...model.forward(ids).logits[ids.length - 1]];
    const tau = question.temperature;
    const probs = model.probabilities(logits, { temperature: tau });
    const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
    const [best, runnerUp] = order;
    const share = probs[best];
    const off = (value) => Math.abs(parseFloat(value) / 100 - share);
    const nearest = question.choices.reduce(
      (b, [value]) => (off(value) < off(b) ? value : b),
      question.choices[0][0],
    );
    const gap = logits[best] - logits[runnerUp];
    const odds = (x) => Number(x.toPrecision(3));
    const why =
      `Dividing the logits by ${tau} multiplies every gap between them by ${Number((1 / tau).toPrecision(6))}: ` +
      `“${model.shown[best]}” leads the runner-up “${model.shown[runnerUp]}” by ${gap.toFixed(2)}, ` +
      `so its odds over it go from ${odds(Math.exp(gap))} to ${odds(Math.exp(gap / tau))}.`;
    return {
      answer: nearest,
      evidence: `The live model gives it ${(share * 100).toFixed(1)}% at temperature ${tau}. ${why}`,
    };
  }

  function answerOf(loaded, question) {
    if (question.ask === "accuracy-step") {
      const reached = loaded.snapshots.find((s) => s.accuracy >= question.threshold);
      const evidence = loaded.snapshots
        .filter((s) => s.step <= (reached ? reached.step : Infinity))
        .slice(-4)
        .map((s) => `step ${s.step}: ${percent(s.accuracy)}`)
        .join(", ");
      // the reason is the build's, from the same record (compute.accuracy_why)
      return {
        answer: reached ? reached.step : null,
        evidence: `Whole answers right in the replay: ${evidence}. ${question.why}`,
      };
    }
    if (question.ask === "temperature-share") return temperatureAnswer(loaded, question);
    if (question.ask === "tool-off") {
      // the engine of nanobook_tools.js, which the build adds to pages with a tool model
      const done = nanobook.tools.complete(loaded, question.input, { tool: false });
      const answer = loaded.decode(done.ids.slice(question.input.length));
      return {
        answer,
        evidence: `The live model, its calculator off, writes “${answer}”: it learned to write the call, and nothing about the sum, which its training never scored.`,
      };
    }
    if (question.ask === "rl-pass-k") {
      // as compute.py's rl_trend decides, from the RL run's first and last snapshots
      const k = question.k;
      const [first, last] = [loaded.snapshots[0], loaded.snapshots[loaded.snapshots.length - 1]];
      const [before, after] = [first[`pass@${k}`], last[`pass@${k}`]];
      const answer =
        Math.abs(after - before) < question.band ? "same" : after > before ? "higher" : "lower";
      const pct = (p) => `${(p * 100).toFixed(1)}%`;
      return {
        answer,
        evidence: `In the RL run's record, pass@${k} went from ${pct(before)} to ${pct(after)} while pass@1 went from ${pct(first["pass@1"])} to ${pct(last["pass@1"])}.`,
      };
    }
    const model = loaded;
    const ids = model.encode(question.input);
    const forward = model.forward(ids);
    if (question.ask === "strongest-key") {
      const row = forward.attention[question.layer][question.head][question.query];
      const best = row.reduce((b, w, j) => (w > row[b] ? j : b), 0);
      const weights = [...row.slice(0, question.query + 1)].map(
        (w, j) => `${j} “${model.shown[ids[j]]}” ${percent(w)}`,
      );
      return {
        answer: best,
        evidence: `The live model's weights for that query: ${weights.join(", ")}.`,
      };
    }
    const probs = model.probabilities(forward.logits[ids.length - 1], {
      temperature: question.temperature,
    });
    const best = probs.reduce((b, p, i) => (p > probs[b] ? i : b), 0);
    const ranked = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 4);
    const listed = ranked.map((i) => `“${model.shown[i]}” ${percent(probs[i])}`).join(", ");
    return {
      answer: model.vocab[best],
      evidence: `At temperature ${question.temperature}, the live model's next-token probabilities: ${listed}.`,
    };
  }

  function predictWidget(root, options) {
    const widget = setUp(root, options);
    const question = options.question;
    const storageKey = `nanobook:predict:${location.pathname}#${root.id}`;
    const fieldset = element(
      "fieldset",
      { className: "nb-predict" },
      element("legend", { text: question.text }),
    );
    question.choices.forEach(([value, label], i) => {
      const radio = element("input", {
        type: "radio",
        name: `${widget.id}-choice`,
        id: `${widget.id}-c${i}`,
        value: String(value),
      });
      fieldset.append(
        element(
          "div",
          { className: "nb-predict-choice" },
          radio,
          element("label", { for: radio.id, text: label }),
        ),
      );
    });
    const check = element("button", {
      type: "button",
      className: "nb-live-button",
      text: "Check with the model",
    });
    const verdict = element("p", {
      className: "nb-predict-verdict",
      role: "status",
      "aria-live": "polite",
    });
    widget.controls.append(fieldset, element("div", { className: "nb-live-buttons" }, check));
    widget.live.append(verdict);
    // the question replaces the static rendering at once: that one shows the answer
    widget.live.hidden = false;
    root.querySelector(".nb-live-static").hidden = true;
    widget.status.textContent = "";
    try {
      const kept = localStorage.getItem(storageKey);
      const radio = kept && fieldset.querySelector(`input[value="${CSS.escape(kept)}"]`);
      if (radio) radio.checked = true;
    } catch (_error) {
      // storage may be off (private windows, file://): progress is simply not kept
    }
    check.addEventListener("click", () => {
      const picked = fieldset.querySelector("input:checked");
      if (!picked) {
        verdict.textContent = "Choose an answer first: commit to a prediction, then check it.";
        return;
      }
      try {
        localStorage.setItem(storageKey, picked.value);
      } catch (_error) {
        // as above
      }
      widget.ready((loaded) => {
        const { answer, evidence } = answerOf(loaded, question);
        const label = question.choices.find(([value]) => String(value) === String(answer));
        const right = String(answer) === picked.value;
        verdict.textContent = `${right ? "Right" : "Not this time"}: the answer is ${label ? label[1] : answer}. ${evidence}`;
        verdict.classList.toggle("nb-predict-right", right);
        root.dataset.answer = String(answer);
        widget.announce({ answer });
      });
    });
    return widget;
  }

  // --- start ------------------------------------------------------------------------

  const widgets = [];
  const kinds = {
    attention: attentionWidget,
    sampling: samplingWidget,
    replay: replayWidget,
    predict: predictWidget,
  };

  function startWidget(root) {
    // one widget whose settings cannot be used keeps its static rendering; the rest start
    try {
      const options = JSON.parse(root.dataset.live);
      const make = kinds[options.kind];
      if (!make) {
        // a kind with a script of its own (nanobook_tools.js, …) starts when that script runs
        if (!(options.kind in laterKinds))
          throw new TypeError(`no live widget of kind ${JSON.stringify(options.kind)}`);
        return;
      }
      root.dataset.liveStarted = "true";
      widgets.push(make(root, options));
    } catch (error) {
      root.dataset.liveProblem = String(error?.message ? error.message : error);
      console.warn(
        "nanobook: this live widget's settings cannot be used; it stays static:",
        root.id,
        error,
      );
    }
  }

  // Kinds whose scripts come after this one (the build adds them to the page), and the
  // shared helpers they build on: nanobook.widgets.add(kind, make) starts that kind's widgets.
  const laterKinds = { tools: true, chat: true };
  nanobook.widgets = {
    element,
    setUp,
    argmax,
    problemWith,
    percent,
    reducedMotion,
    add(kind, make) {
      kinds[kind] = make;
      if (document.readyState === "loading") return; // start() will find them
      for (const root of document.querySelectorAll(".nb-live[data-live]")) {
        if (!root.dataset.liveStarted && !root.dataset.liveProblem) startWidget(root);
      }
    },
  };

  function start() {
    for (const root of document.querySelectorAll(".nb-live[data-live]")) startWidget(root);
    // the attention maps are drawn on canvases in the theme's colours: redraw on a switch
    new MutationObserver(() => {
      for (const w of widgets) w.redraw?.();
    }).observe(document.documentElement, {
      attributes: true,
      attributeFilter: ["data-theme"],
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
