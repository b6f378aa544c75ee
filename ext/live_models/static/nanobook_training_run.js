/* What the live-training widgets (nanobook_training.js, and nanobook_training_rl.js with
   :run: rl) show of a run once the reader presses Train, loaded then beside the trainer
   (nanobook_train.js): the chart, the log, the phases of a step and the attention maps
   forming, the evaluations said to screen readers, the status line as the run goes, the
   start drawn for another shape or seed, and the hand-over of the reader's model. Until
   Train the page holds only the controls, which cost a reader who never trains nothing
   more to load.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, reducedMotion, percentOneDecimal, svg, svgText } = kit;
  const PHASE_PAUSE_MS = 450; // how long a step's walk through its phases shows each one
  const parts = () => kit.trainingParts; // the controls' parts (nanobook_training.js)

  /** The run the settings ask for: train.py's settings and the model's shape (the
      export's config, which also holds LayerNorm's eps), each control setting what the
      build says it sets. */
  function chosenRun(fields, payload) {
    const settings = { ...payload.rules.settings };
    const config = { ...payload.config };
    for (const { control, read } of fields) {
      const value = read();
      for (const key of control.sets.settings || []) settings[key] = value;
      for (const key of control.sets.config || []) config[key] = value;
    }
    return { settings, config };
  }

  // --- the run's start ----------------------------------------------------------------

  /** Starting weights for a shape or seed the build did not export: each parameter shaped
      and filled as the export's `draw` rules say (read off model.py), normal draws made
      from train.py's generator (mt19937) by Box-Muller and rounded to float32. */
  function drawnWeights(draw, config, seed) {
    const next = nanobook.training._mersenneTwister(seed);
    const uniform = () => (next() + 1) / 4294967297; // in (0, 1): the logarithm stays finite
    const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const fills = draw.fills[String(config.n_layer)];
    const layered = (pattern) => pattern.includes(".h.*.");
    const names = [];
    let blocksAdded = false;
    for (const entry of draw.params) {
      if (!layered(entry[0])) names.push([entry[0], entry]);
      else if (!blocksAdded) {
        blocksAdded = true; // every block's parameters, block after block, as in the state dict
        for (let l = 0; l < config.n_layer; l++) {
          for (const block of draw.params.filter(([p]) => layered(p))) {
            names.push([block[0].replace(".h.*.", `.h.${l}.`), block]);
          }
        }
      }
    }
    const weights = {};
    for (const [name, [pattern, dims]] of names) {
      const size = dims.reduce(
        (n, [perWidth, constant]) => n * (perWidth * config.n_embd + constant),
        1,
      );
      const fill = fills[pattern];
      const values = new Float64Array(size);
      if ("fill" in fill) values.fill(fill.fill);
      else for (let i = 0; i < size; i++) values[i] = Math.fround(fill.mean + fill.std * normal());
      weights[name] = values;
    }
    return weights;
  }

  // --- what the page shows of a run ---------------------------------------------------

  const loss4 = (value) => (Number.isFinite(value) ? value.toFixed(4) : String(value));

  /** A run's log that screen readers read and readers copy: a table named by the title
      above it, its rows added as the run goes, kept scrolled to the newest unless the reader
      scrolled up. The title stands outside the table's scrolling box: as the table's caption
      it scrolled out of view, up as rows came and sideways in a narrow column. */
  function logTable(widgetId, columns, className) {
    const body = element("tbody");
    const header = element(
      "tr",
      {},
      ...columns.map((text) => element("th", { scope: "col", text })),
    );
    const title = element("p", {
      className: "nb-training-log-title",
      id: `${widgetId}-log-title`,
      text: "Your run's log",
    });
    const table = element(
      "table",
      { className, id: `${widgetId}-log`, "aria-labelledby": title.id },
      element("thead", {}, header),
      body,
    );
    const box = element(
      "div",
      {
        className: "nb-training-log-box",
        role: "region",
        tabindex: "0",
        "aria-labelledby": title.id,
      },
      table,
    );
    return {
      frame: element("div", { className: "nb-training-log-frame" }, title, box),
      clear(text) {
        body.replaceChildren();
        title.textContent = text;
      },
      add(cells) {
        const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
        body.append(element("tr", {}, ...cells.map((text) => element("td", { text }))));
        if (atBottom) box.scrollTop = box.scrollHeight;
      },
    };
  }

  /** The log as train.fit keeps it: every log_interval steps and at each evaluation. */
  const LOG_COLUMNS = [
    "Step",
    "Training loss",
    "Book run's training loss",
    "Held-out loss",
    "Held-out accuracy",
  ];
  const logCaption = (s) =>
    `Your run's log: the training loss every ${s.log_interval} steps, beside the book's PyTorch run's at the same step, the held-out loss and the share of held-out problems sorted right at each evaluation (every ${s.eval_interval} steps and at the end)`;
  const logCells = (record, run) => [
    String(record.iter),
    loss4(record.loss),
    run.bookLosses.has(record.iter) ? loss4(run.bookLosses.get(record.iter)) : "–",
    "val_loss" in record ? loss4(record.val_loss) : "–",
    "accuracy" in record ? percentOneDecimal(record.accuracy) : "–",
  ];

  /** A line through the points [step, value] that y(value) can place. */
  function polyline(points, x, y, className) {
    const placed = points.map(([s, v]) => [x(s), y(v)]).filter(([, b]) => Number.isFinite(b));
    return svg("polyline", {
      points: placed.map(([a, b]) => `${a},${b}`).join(" "),
      class: className,
    });
  }

  /** The x axis and the labels around the plot of a chart frame (kit.chartFrame): the top
      and bottom values, what is drawn, and the last step. */
  function axes(frame, high, low, what, lastStep) {
    const { left, right, top, bottom } = frame;
    const end = { "text-anchor": "end" };
    return [
      kit.chartAxis(frame),
      svgText(high, { x: left - 4, y: top + 4, ...end }),
      svgText(low, { x: left - 4, y: bottom + 4, ...end }),
      svgText(what, { x: left, y: bottom + 20 }),
      svgText(String(lastStep), { x: right, y: bottom + 20, ...end }),
    ];
  }

  /** The losses over the run's steps on a log scale: the reader's training loss (a line),
      held-out loss (dots), and the book's logged run (dashed) for comparison. */
  function drawChart(chart, records, book, lastStep) {
    // room on the left for a label such as 0.00015
    const frame = kit.chartFrame(chart, { leftMargin: 58, rightMargin: 12, lastStep });
    const { top, bottom, x } = frame;
    const shown = book.filter(([step]) => step <= lastStep);
    const values = [
      ...records.flatMap((r) => [r.loss, r.val_loss]),
      ...shown.flatMap(([, l, v]) => [l, v]),
    ];
    const finite = values.filter((v) => Number.isFinite(v) && v > 0);
    if (!finite.length) return chart.replaceChildren();
    const [low, high] = [Math.log(Math.min(...finite)), Math.log(Math.max(...finite))];
    const y = (loss) => bottom - ((bottom - top) * (Math.log(loss) - low)) / (high - low || 1);
    const heldOut = records.filter((r) => Number.isFinite(r.val_loss) && r.val_loss > 0);
    const lines = [
      [shown.map(([s, l]) => [s, l]), "nb-training-book"],
      [records.map((r) => [r.iter, r.loss]), "nb-training-loss"],
    ];
    chart.replaceChildren(
      ...lines.map(([points, className]) => polyline(points, x, y, className)),
      ...heldOut.map((r) =>
        svg("circle", { cx: x(r.iter), cy: y(r.val_loss), r: 4, class: "nb-training-val" }),
      ),
      ...axes(
        frame,
        Math.exp(high).toFixed(2),
        String(Number(Math.exp(low).toPrecision(2))),
        "loss (log scale) over the steps",
        lastStep,
      ),
    );
    const last = records[records.length - 1];
    const val = heldOut[heldOut.length - 1];
    chart.setAttribute(
      "aria-label",
      `Your run's training loss over ${last ? last.iter : 0} of ${kit.counted(lastStep, "step")}${last ? `, now ${loss4(last.loss)}` : ""}${val ? `; held-out loss ${loss4(val.val_loss)} at step ${val.iter}` : ""}. The book's run is drawn dashed for comparison.`,
    );
  }

  /** What a chart's marks are, in words that wrap on a phone: [swatch class, words]; a
      list, so that a screen reader and a copy keep the entries apart. */
  function legend(entries) {
    const swatch = (kind) =>
      element("span", { className: `nb-training-swatch ${kind}`, "aria-hidden": "true" });
    return element(
      "ul",
      { className: "nb-training-legend" },
      ...entries.map(([kind, words]) => element("li", {}, swatch(kind), words)),
    );
  }

  const LEGEND = [
    ["", "your training loss"],
    ["nb-training-swatch-val", "your held-out loss"],
    ["nb-training-swatch-book", "the book's run"],
  ];

  /** ``draw`` once in the next frame, however often it is asked for before then. */
  function oncePerFrame(draw) {
    let asked = 0;
    return () => {
      if (asked) return;
      asked = requestAnimationFrame(() => {
        asked = 0;
        draw();
      });
    };
  }

  /** "1 block", "3 blocks": a count and its noun, which agree. */
  const counted = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

  function phaseValue(name, record, run) {
    const { settings, config } = run;
    const clip = settings.grad_clip;
    switch (name) {
      case "schedule":
        // fit asks for a step's rate before taking it, while iter_num still counts the
        // steps already taken: step 43's rate is get_lr(42)
        return `step ${record.iter}'s rate: get_lr(${record.iter - 1}, cfg) gives ${Number(record.lr.toPrecision(3))}`;
      case "batch":
        return `${counted(settings.batch_size, "training problem")}, drawn by the generator seeded with ${settings.seed}`;
      case "forward":
        return `${counted(config.n_layer, "block")} read${config.n_layer === 1 ? "s" : ""} ${settings.batch_size}×${settings.block_size} tokens`;
      case "loss":
        return `cross-entropy over the answer letters: ${loss4(record.loss)}`;
      case "backward":
        return `a gradient for every one of the ${run.parameters.toLocaleString("en")} parameters`;
      case "clip":
        if (record.norm === null) return "clipping is off: the gradients stay as they are";
        return record.norm > clip
          ? `their norm ${record.norm.toFixed(3)} is above ${clip}: all scaled down to ${clip}`
          : `their norm ${record.norm.toFixed(3)} is within ${clip}: left as they are`;
      default:
        return `AdamW moved every parameter: step ${record.iter} done`;
    }
  }

  /** The page's lines of a phase: each listing of its file whose line says the anchor. */
  function phaseLines(phase) {
    const found = [];
    for (const spec of phase.lines) {
      for (const block of document.querySelectorAll(".annotated-source[data-as-path]")) {
        if (block.dataset.asPath !== spec.path) continue;
        const line = block.querySelector(`#${CSS.escape(block.id)}-L${spec.line}`);
        if (line?.querySelector(".as-src")?.textContent.includes(spec.anchor))
          found.push({ spec, line });
      }
    }
    return found;
  }

  const PHASES_WAIT =
    "The phases fill in once your run has taken a step. Each then marks the lines of train.py that run it, and Step walks through one step's phases.";
  const PHASES_CHOOSE = "Choose a phase to mark the lines of train.py that run it.";

  /** Scrolls `element` back into view if what loads near it once the page settles (a
      figure, a clip) has pushed it off the screen, unless the reader has scrolled. */
  function inViewOnceSettled(element) {
    let moved = false;
    const readerMoves = ["wheel", "touchmove", "keydown", "pointerdown"];
    const heard = () => {
      moved = true;
    };
    for (const type of readerMoves) window.addEventListener(type, heard, { once: true });
    setTimeout(() => {
      for (const type of readerMoves) window.removeEventListener(type, heard);
      const { top, bottom } = element.getBoundingClientRect();
      const off = top < 0 || bottom > window.innerHeight;
      if (off && !moved) element.scrollIntoView({ block: "center" });
    }, 600);
  }

  /** After the last marked line of each listing: a link back to the phases (the listing
      can be many screens above the widget). Following it scrolls back and gives the
      chosen phase the keyboard's focus. Returns the links' rows, to take out later. */
  function backRows(found, listId, chosen) {
    const lasts = new Map(); // listing -> its last marked line
    for (const { line } of found) lasts.set(line.closest(".annotated-source"), line);
    return [...lasts.values()].map((line) => {
      const back = element("a", {
        href: `#${listId}`,
        text: "Back to the training widget",
      });
      back.addEventListener("click", (event) => {
        event.preventDefault();
        const button = chosen();
        if (!button) return;
        // a jump, not a smooth scroll: content loaded on the way changes the height above
        // the widget, and a smooth scroll would end where the button no longer is
        button.focus({ preventScroll: true });
        button.scrollIntoView({ block: "center", behavior: "auto" });
        inViewOnceSettled(button);
      });
      const row = element("div", { className: "nb-training-back" }, back);
      line.after(row);
      return row;
    });
  }

  /** The links to a phase's marked lines: following one opens a folded stretch of the
      listing over the line and hands the line the keyboard's focus, from where Tab
      reaches the way back. */
  function lineLinks(found) {
    return found.map(({ spec, line }) => {
      const link = element("a", { href: `#${line.id}`, text: `line ${spec.line} of ${spec.path}` });
      link.addEventListener("click", () => {
        const fold = line.closest("details");
        if (fold) fold.open = true; // a folded stretch of the listing hides the line
        line.focus({ preventScroll: true }); // the link's jump does the scrolling
      });
      return link;
    });
  }

  /** The phase buttons, disabled until a run has taken a step (before then they would
      show nothing), each with the line that says where its code is. */
  function phaseButtons(phases, where) {
    return phases.map((phase) => {
      const value = element("span", { className: "nb-training-phase-value" });
      const button = element(
        "button",
        {
          type: "button",
          className: "nb-training-phase",
          "aria-pressed": "false",
          "aria-describedby": where.id,
        },
        element("span", { className: "nb-training-phase-name", text: phase.label }),
        value,
      );
      button.disabled = true;
      return { phase, button, value };
    });
  }

  /** The list of phases: choosing one (or a step walking through them) marks its lines
      and links to them; each shows what it did in the latest step. */
  function phasePanel(widgetId, phases) {
    const list = element("ol", {
      className: "nb-training-phases",
      id: `${widgetId}-phases`,
      "aria-label": "The phases of one training step",
    });
    const where = element("p", { className: "nb-training-where", id: `${widgetId}-where` });
    where.textContent = PHASES_WAIT;
    const items = phaseButtons(phases, where);
    for (const { button } of items) list.append(element("li", {}, button));
    const chosen = () => items.find((i) => i.button.getAttribute("aria-pressed") === "true");
    let marked = [];
    let backs = [];
    let walk = 0;
    function choose(name) {
      for (const line of marked) line.classList.remove("nb-training-line");
      for (const row of backs) row.remove();
      const item = items.find((i) => i.phase.name === name);
      for (const i of items) i.button.setAttribute("aria-pressed", String(i === item));
      if (!item) {
        [marked, backs] = [[], []];
        return;
      }
      const found = phaseLines(item.phase);
      marked = found.map(({ line }) => line);
      for (const line of marked) line.classList.add("nb-training-line");
      backs = backRows(found, list.id, () => chosen()?.button);
      const links = lineLinks(found);
      where.replaceChildren(
        ...(links.length
          ? [
              `${item.phase.label}: marked in the listing, `,
              ...links.flatMap((l, i) => (i ? [", ", l] : [l])),
              ".",
            ]
          : [
              `${item.phase.label}: its code is in train.py's fit (the listing is not on this page).`,
            ]),
      );
    }
    for (const item of items) {
      item.button.addEventListener("click", () => {
        clearTimeout(walk); // the reader's choice ends a step's walk
        choose(item.phase.name);
      });
    }
    return {
      element: element("div", { className: "nb-training-phase-panel" }, list, where),
      /** A new run: nothing to show until its first step. */
      reset() {
        clearTimeout(walk);
        choose(null);
        for (const item of items) {
          item.button.disabled = true;
          item.value.textContent = "";
        }
        where.textContent = PHASES_WAIT;
      },
      show(record, run) {
        for (const item of items) item.value.textContent = phaseValue(item.phase.name, record, run);
        if (!items[0].button.disabled) return;
        for (const item of items) item.button.disabled = false;
        where.textContent = PHASES_CHOOSE;
      },
      /** One step's phases one after the other (at once with reduced motion: its last). */
      walk() {
        clearTimeout(walk);
        if (reducedMotion.matches) return choose(items[items.length - 1].phase.name);
        const next = (index) => {
          choose(items[index].phase.name);
          if (index + 1 < items.length) walk = setTimeout(() => next(index + 1), PHASE_PAUSE_MS);
        };
        next(0);
      },
    };
  }

  // --- the attention maps forming -------------------------------------------------------

  /** What a head's map says in words: the position each position attends to most. */
  const mapLabel = (layer, head, record, rows) =>
    `Layer ${layer}, head ${head} at step ${record.iter}: the position each position attends to most, in order: ${rows.map(kit.argmax).join(", ")}`;

  /** A head's small map, a button that shows it large (and, pressed again, no more). */
  function thumbnail(l, h, toggle) {
    const canvas = element("canvas", {
      className: "nb-live-map",
      role: "img",
      "data-layer": String(l),
      "data-head": String(h),
    });
    return kit.headButton(canvas, () => toggle(l, h));
  }

  /** Every head's attention on the build's held-out probe, redrawn at each logged step:
      one small map a head (the kit's, as the attention widget draws them), each labelled
      with the key every position attends to most; the one the reader chooses is shown
      large, with the probe's letters along its sides (the kit's figure). */
  function attentionPanel(widgetId) {
    const title = element("p", { className: "nb-training-maps-title", id: `${widgetId}-maps` });
    const layers = element("div", { className: "nb-live-layers" });
    const large = kit.mapFigure(`${widgetId}-large`);
    large.figure.hidden = true;
    const panel = element(
      "div",
      { className: "nb-training-maps", role: "group", "aria-labelledby": title.id },
      title,
      layers,
      large.figure,
    );
    panel.hidden = true;
    let shown = null; // the latest record with maps, and the run's vocabulary
    let enlarged = null; // the head shown large: "layer,head"
    function drawLarge(record, letters) {
      large.figure.hidden = !enlarged;
      if (!enlarged) return;
      const [layer, head] = enlarged.split(",");
      const rows = record.attention[layer][head];
      large.title.textContent = `Layer ${layer}, head ${head} after step ${record.iter}: each row a query, each column a key it may attend to`;
      large.map.setAttribute("aria-label", mapLabel(layer, head, record, rows));
      kit.letteredMap(large.map, rows, letters, panel);
    }
    function draw() {
      if (!shown) return;
      const { record, vocab, probe } = shown;
      const colours = kit.mapColours(panel);
      const letters = probe.map((id) => vocab[id]);
      title.textContent = `Attention on the held-out row ${letters.join("")} after step ${record.iter}: each head's map, a row for each position (the query), its colour stronger where that query reads more. Choose a map to see it large.`;
      for (const canvas of layers.querySelectorAll("canvas")) {
        const { layer, head } = canvas.dataset;
        const rows = record.attention[layer][head];
        kit.headMap(canvas, rows, colours, 60);
        canvas.setAttribute("aria-label", mapLabel(layer, head, record, rows));
        const chosen = enlarged === `${layer},${head}`;
        canvas.parentElement.setAttribute("aria-pressed", String(chosen));
        canvas.closest("figure").classList.toggle("nb-live-chosen", chosen);
      }
      drawLarge(record, letters);
    }
    const toggle = (l, h) => {
      enlarged = enlarged === `${l},${h}` ? null : `${l},${h}`;
      draw();
    };
    return {
      element: panel,
      draw,
      clear() {
        shown = null;
        enlarged = null;
        panel.hidden = large.figure.hidden = true;
        layers.replaceChildren();
      },
      show(record, run) {
        if (!record.attention) return;
        if (!shown) {
          kit.headGrid(layers, record.attention, (l, h) => thumbnail(l, h, toggle));
          panel.hidden = false;
        }
        const { vocab, data } = run.payload;
        shown = { record, vocab, probe: data.held_out.probe };
      },
    };
  }

  /** A run that retraces the book's (run.retrace): at each step both logged, whether the
      two training losses still lie within the build's tolerance of each other, and the
      first step at which they no longer do. */
  function followBook(run, record) {
    const trace = run.retrace;
    if (!trace || trace.parted || !run.bookLosses.has(record.iter)) return;
    if (Math.abs(record.loss - run.bookLosses.get(record.iter)) > trace.tolerance) {
      trace.parted = record.iter;
    } else {
      trace.within = record.iter;
    }
  }

  /** The progress line's estimate of the time a running run has left, "(about 20 s left)",
      from the pace of its steps since it last started or resumed, evaluations included;
      none unless it runs (not paused, done, diverged or failed), nor until PACE_STEPS steps
      have set the pace. Each state message sets run.pace to null, so that a resumed run's
      pace is taken afresh. */
  const PACE_STEPS = 5;
  function paceNote(run, iter, total) {
    const now = performance.now();
    if (run.state !== "running") return "";
    if (!run.pace) run.pace = { at: now, iter };
    const steps = iter - run.pace.iter;
    if (steps < PACE_STEPS || iter >= total) return "";
    const seconds = Math.max(1, Math.round(((total - iter) * (now - run.pace.at)) / steps / 1000));
    const left = seconds < 60 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
    return ` (about ${left} left)`;
  }

  /** The progress line's word on the retrace: still with the book's run, or where it left. */
  function retraceNote({ retrace }) {
    if (retrace?.parted) return ` · parted from the book's run at step ${retrace.parted}`;
    return retrace?.within ? ` · within ${retrace.tolerance} of the book's run` : "";
  }

  /** The retrace at the end of a run, in a sentence (none for a run of other settings). */
  function retraceSentence({ retrace }) {
    if (!retrace) return "";
    const within = `Your losses stayed within ${retrace.tolerance} of the book's PyTorch run's`;
    if (!retrace.parted) return ` ${within} at every step both logged.`;
    const until = retrace.within ? `${within} to step ${retrace.within}, then` : "Your losses";
    // the page computes in float64: against a float64 run only a float32 rounding that fell
    // the other way (a result a hair from halfway) can start a difference
    const why =
      retrace.bookDtype === "float64"
        ? "a weight's float32 rounding that fell the other way"
        : `float rounding (your browser's float64 against PyTorch's ${retrace.bookDtype})`;
    return ` ${until} parted from them at step ${retrace.parted}: ${why}, grown over the steps.`;
  }

  /** What the status line says when the run's state changes. */
  function stateText(state, run, handOver) {
    const last = run.records[run.records.length - 1];
    if (state === "running") return "Training in your browser. Pause stops after the current step.";
    if (state === "paused")
      return `Paused after step ${last ? last.iter : 0}. Step takes one more step, through its phases; Resume goes on.`;
    const evaluated = run.records.filter((r) => "val_loss" in r).pop();
    const heldOut = evaluated
      ? `, held-out loss ${loss4(evaluated.val_loss)}, held-out accuracy ${percentOneDecimal(evaluated.accuracy)}`
      : "";
    const then = handOver ? ` You can now use your model in the ${handOver}.` : "";
    return `Done: ${kit.counted(last.iter, "step")}, last training loss ${loss4(last.loss)}${heldOut}.${retraceSentence(run)}${then}`;
  }

  /** An evaluation in words: the step, the losses and the held-out accuracy. */
  const evaluationText = (record, s) =>
    `Evaluation at step ${record.iter} of ${s.max_iters}: training loss ${loss4(record.loss)}, held-out loss ${loss4(record.val_loss)}, held-out accuracy ${percentOneDecimal(record.accuracy)}.`;

  /** The progress line of a run after its latest record. */
  function progressLine(run) {
    const s = run.settings;
    const record = run.records[run.records.length - 1];
    const scored = run.records.findLast((r) => "accuracy" in r);
    const accuracy = scored
      ? ` · held-out accuracy ${percentOneDecimal(scored.accuracy)} at step ${scored.iter}`
      : "";
    return `Step ${record.iter} of ${s.max_iters}${paceNote(run, record.iter, s.max_iters)} · training loss ${loss4(record.loss)} · learning rate ${Number(record.lr.toPrecision(3))}${accuracy}${retraceNote(run)}`;
  }

  /** What the live part shows of a run: the progress line, the phases, the chart, its
      legend and the log. heard(run, record) adds a record; a stepped one walks the phases;
      restate(run) writes the progress line again when the run's state changes. */
  function runView(widget, options, say) {
    const progress = element("p", { className: "nb-live-readout nb-training-progress" });
    const chart = svg("svg", { class: "nb-replay-chart nb-training-chart", role: "img" });
    const log = logTable(widget.id, LOG_COLUMNS, "nb-training-log");
    const phases = phasePanel(widget.id, options.phases);
    const maps = attentionPanel(widget.id);
    widget.live.append(progress, phases.element, chart, legend(LEGEND), maps.element, log.frame);
    let shown = null;
    const redraw = () => {
      if (shown) drawChart(chart, shown.records, shown.payload.book, shown.settings.max_iters);
      maps.draw();
    };
    const redrawSoon = oncePerFrame(redraw); // one drawing a frame, however many records
    return {
      redraw,
      start(run) {
        shown = run;
        log.clear(logCaption(run.settings));
        say(null); // an earlier run's evaluation still waiting to be said
        maps.clear();
        phases.reset();
        progress.textContent = "";
        redraw();
      },
      heard(run, record, stepped) {
        const s = run.settings;
        if (record.iter % s.log_interval === 0 || "val_loss" in record) {
          log.add(logCells(record, run));
          followBook(run, record);
        }
        if ("accuracy" in record && record.iter < s.max_iters) say(evaluationText(record, s));
        progress.textContent = progressLine(run);
        phases.show(record, run);
        maps.show(record, run);
        if (stepped) phases.walk();
        redrawSoon();
      },
      restate(run) {
        if (run === shown && run.records.length) progress.textContent = progressLine(run);
      },
    };
  }

  /** A run in the trainer: its settings, shape, export and records, its state as the
      trainer last said it, and whether the reader asked for one step. */
  function newRun(fields, options, model, payload) {
    const { settings, config } = chosenRun(fields, payload);
    const fromBook = parts().startsAsBook(options.start, fields);
    const weights = fromBook ? model.w : drawnWeights(payload.draw, config, settings.seed);
    const parameters = Object.values(weights).reduce((n, w) => n + w.length, 0);
    const run = { settings, config, parameters, payload, weights, records: [] };
    run.bookLosses = new Map(payload.book.map(([step, loss]) => [step, loss]));
    if (parts().retracesBook(options.start, fields)) {
      const tolerance = payload.retrace_tolerance;
      const bookDtype = payload.rules.settings.dtype; // the book run's arithmetic
      run.retrace = { tolerance, bookDtype, within: 0, parted: null };
    }
    return Object.assign(run, { state: "starting", stepping: false });
  }

  /** The reader's model as the run (its handle) has it now, in the attention and sampling
      widgets of the same preset. shape: the model's config, vocab, shown and task; whose:
      what the menus call it ("your model", "your RL model"). */
  async function handOver(widget, preset, handle, shape, whose) {
    const { iter, weights } = await handle.weights();
    const { config, vocab, shown, task } = shape;
    const model = new nanobook.Model({ name: preset, config, vocab, shown, task }, weights);
    const label = `${whose} (step ${iter})`;
    document.dispatchEvent(
      new CustomEvent("nanobook:model", { detail: { name: preset, model, label } }),
    );
    widget.status.textContent = `${whose[0].toUpperCase()}${whose.slice(1)} as it was after step ${iter} is now in the ${parts().receivers(preset)}; a Model menu there switches back to the book's.`;
  }

  /** The training widget's run, handed over as "your model". */
  function handRun(widget, options, run) {
    const shape = { ...run.payload, config: run.config }; // the reader's shape, not the book's
    return handOver(widget, options.preset, run.handle, shape, "your model");
  }

  // What the trainer's "diverged" message may name, in the status line's words (pass@k's
  // k is the RL widget's)
  const DIVERGED_NAMES = {
    loss: "loss",
    norm: "gradients' norm",
    train_loss: "evaluated training loss",
    val_loss: "held-out loss",
    pass1: "held-out pass@1",
    passk: "held-out pass@k",
  };

  /** The status line when the trainer stops a run on a number that is not finite (its
      "diverged" message): which number, at which step, and what the reader can do. what:
      the run's name ("Training", "RL"); k: pass@k's, where the run has one. */
  function divergedText(what, { record, key }, k) {
    const name = DIVERGED_NAMES[key].replace("@k", `@${k}`);
    const value = Number.isNaN(record[key]) ? "is not a number (NaN)" : "is infinite";
    const when = record.iter ? `at step ${record.iter}` : "at the start";
    const stopped = `${what} stopped ${when}: its ${name} ${value}, and the run cannot go on from there.`;
    if (!record.iter) return `${stopped} Reload the page and press Train again.`;
    return `${stopped} The usual cause is a learning rate too high for the other settings: lower it and press Train again. The chart and the log end at the last step that gave numbers.`;
  }

  /** What the training widget does with the trainer's messages about a run: the view
      hears its records, the buttons and the status line follow its state. */
  function trainingHearer(widget, options, { shown, buttons, setButtons }) {
    const say = (state, run) => {
      const takers = buttons.hand && parts().receivers(options.preset);
      widget.status.textContent = stateText(state, run, takers);
    };
    return function hear(run, message) {
      if (run !== shown.run) return; // an earlier run's last words
      if (message.type === "record") {
        const { record } = message;
        const stepped = run.stepping;
        run.stepping = false;
        run.records.push(record);
        shown.view.heard(run, record, stepped);
        // the step under way when the reader paused ends after the pause is heard
        if (run.state === "paused" && !stepped) say("paused", run);
        if (stepped) {
          widget.status.textContent = `Step ${record.iter} done, training loss ${loss4(record.loss)}: the phases below show what it did.`;
        }
        widget.announce({ record });
      } else if (message.type === "state" && message.state !== "stopped") {
        run.state = message.state;
        run.pace = null;
        shown.view.restate(run); // no estimate while paused or done
        setButtons(message.state);
        say(message.state, run);
      } else if (message.type === "diverged") {
        run.state = "diverged";
        shown.view.restate(run);
        setButtons("diverged");
        widget.status.textContent = divergedText("Training", message);
      } else if (message.type === "error") {
        run.state = "failed";
        shown.view.restate(run);
        setButtons("done");
        widget.status.textContent = `Training stopped: ${message.message}.`;
      }
    };
  }

  /** The training widget's new run (pressTrain's begin): the view made in the live part
      at the first, the run shown in it, and what the trainer starts it with. */
  function beginTraining(widget, options, wiring, model, payload) {
    const { shown, fields } = wiring;
    if (!shown.view) {
      shown.view = runView(widget, options, wiring.say);
      widget.redraw = shown.view.redraw;
      shown.hear = trainingHearer(widget, options, wiring);
    }
    const run = newRun(fields, options, model, payload);
    shown.view.start(run);
    const { config, weights, settings } = run;
    return [run, { config, weights, settings, rules: payload.rules, data: payload.data }];
  }

  // what the RL widget's run (below) shares with this one, and what the widgets call
  kit.trainingRun = {
    beginTraining,
    divergedText,
    handRun,
    handOver,
    logTable,
    polyline,
    axes,
    legend,
    oncePerFrame,
    paceNote,
  };
  // tests/test_live_training_widget.py compares the starts it draws with model.py's
  nanobook._drawnWeights = drawnWeights;
})();

// The RL widget's run (kit.add("rl-training") in nanobook_training_rl.js).
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, percentOneDecimal, svg } = kit;
  const parts = () => kit.trainingRun;

  /** The run the controls ask for: the Trainer's settings and rl_runs' run, each control
      setting what the build says it sets; the method's normalise from the build's methods. */
  function chosenRun(fields, rules) {
    const settings = { ...rules.settings };
    const rl = { ...rules.rl };
    for (const { control, read } of fields) {
      for (const key of control.sets.settings || []) settings[key] = read();
      for (const key of control.sets.rl || []) rl[key] = read();
    }
    rl.normalise = rules.rl.methods[rl.method].normalise;
    return { settings, rl };
  }

  /** The run's log: each step's mean reward and sampled pass@1; held-out pass@1, pass@k. */
  const logColumns = (about) => [
    "Step",
    "Reward",
    "Sorted",
    "exact pass@1",
    `exact pass@${about.k}`,
  ];
  const logCaption = (about) =>
    `Your run's log. Reward: the mean reward of the step's answers by the chosen checker. Sorted: the share of them that sort their prompt (pass@1, sampled). pass@1 and pass@${about.k}: on the held-out prompts, exact from the model's probabilities, at the start, every ${about.eval_every} steps and at the end.`;
  const logCells = (record) => [
    String(record.iter),
    percentOneDecimal(record.reward),
    percentOneDecimal(record.sorted),
    percentOneDecimal(record.pass1),
    percentOneDecimal(record.passk),
  ];

  /** Shares (0 to 1) over the run's steps: held-out pass@1 and pass@k, the mean reward and
      the share sorted of each step, and the book's REINFORCE run's pass@1 (dashed). */
  function drawChart(chart, run, about) {
    const { polyline, axes } = parts();
    const last = run.rl.steps;
    const frame = kit.chartFrame(chart, { leftMargin: 40, rightMargin: 12, lastStep: last });
    const { top, bottom, x } = frame;
    const y = (share) => bottom - (bottom - top) * share;
    const evaluated = run.records.filter((r) => "pass1" in r);
    const stepped = run.records.filter((r) => "reward" in r);
    const book = run.payload.book.points.filter(([step]) => step <= last);
    const lines = [
      [book.map(([s, p1]) => [s, p1]), "nb-training-book"],
      [stepped.map((r) => [r.iter, r.reward]), "nb-rl-reward"],
      // the same line as the reward's where the reward is the exact check (the legend says so)
      ...(paysSorted(run) ? [] : [[stepped.map((r) => [r.iter, r.sorted]), "nb-rl-sorted"]]),
      [evaluated.map((r) => [r.iter, r.passk]), "nb-rl-passk"],
      [evaluated.map((r) => [r.iter, r.pass1]), "nb-training-loss"],
    ];
    chart.replaceChildren(
      ...lines.map(([points, className]) => polyline(points, x, y, className)),
      ...evaluated.map((r) =>
        svg("circle", { cx: x(r.iter), cy: y(r.pass1), r: 3.5, class: "nb-training-val" }),
      ),
      ...axes(frame, "100%", "0", "share over the steps", last),
    );
    chart.setAttribute("aria-label", chartSummary(run, about));
  }

  /** The chart in words: where the run is and what it measured last. */
  function chartSummary(run, about) {
    const last = run.records[run.records.length - 1];
    const held = run.records.filter((r) => "pass1" in r).pop();
    const heldText = held
      ? `; held-out pass@1 ${percentOneDecimal(held.pass1)} and pass@${about.k} ${percentOneDecimal(held.passk)} at step ${held.iter}`
      : "";
    const stepText =
      last && "reward" in last
        ? `, step ${last.iter}: mean reward ${percentOneDecimal(last.reward)}, sorted ${percentOneDecimal(last.sorted)}`
        : "";
    return `Your RL run over ${last ? last.iter : 0} of ${kit.counted(run.rl.steps, "step")}${stepText}${heldText}. The book's REINFORCE run's held-out pass@1 is drawn dashed.`;
  }

  /** Whether the run's reward is the exact check (the build's `exact`): it pays 1 for an
      answer that sorts and 0 for any other, so its mean is the share that sorts. */
  const paysSorted = (run) => run?.rl.reward === run?.payload.rules.rl.exact;

  /** The chart's marks in words: pass@1 a line with a dot at each evaluation, as drawn;
      the mean reward and the share sorted one entry when they are one line (`run`'s
      reward the exact check; before a run, two). */
  const legendEntries = (about, run) => [
    ["nb-rl-swatch-pass1", "held-out exact pass@1 (a dot at each evaluation)"],
    ["nb-rl-swatch-passk", `held-out exact pass@${about.k}`],
    ...(paysSorted(run)
      ? [
          [
            "nb-rl-swatch-reward",
            "mean reward, the same line as the answers that sort: the exact-sort reward pays exactly those",
          ],
        ]
      : [
          ["nb-rl-swatch-reward", "mean reward"],
          ["nb-rl-swatch-sorted", "answers that sort (sampled)"],
        ]),
    ["nb-training-swatch-book", "the book's REINFORCE run (exact pass@1)"],
  ];

  /** A choice's value as its menu says it ("GRPO (÷ the group's spread)"). */
  const choiceLabel = (fields, name, value) =>
    fields.find((f) => f.control.name === name).control.choices.find(([v]) => v === value)[1];

  /** What the status line says when the run's state changes: the method and reward by
      their menus' labels. */
  function stateText(state, run, about, fields) {
    const last = run.records[run.records.length - 1];
    const step = last ? last.iter : 0;
    if (state === "running") return "RL in your browser. Pause stops after the current step.";
    if (state === "paused")
      return `Paused after step ${step}. Step takes one more step; Resume goes on.`;
    const held = run.records.filter((r) => "pass1" in r).pop();
    const method = choiceLabel(fields, "method", run.rl.method);
    const reward = choiceLabel(fields, "reward", run.rl.reward);
    return `Done: ${kit.counted(step, "step")} of ${method} with the reward “${reward}”; held-out pass@1 ${percentOneDecimal(held.pass1)}, pass@${about.k} ${percentOneDecimal(held.passk)} (at the start ${percentOneDecimal(run.records[0].pass1)}, ${percentOneDecimal(run.records[0].passk)}).`;
  }

  /** An evaluation in words, for the line screen readers hear: the held-out pass@1 and
      pass@k, and the step's mean reward where it has one (not the start's). */
  function evaluationText(record, run, about) {
    const when = record.iter ? `At step ${record.iter} of ${run.rl.steps}` : "At the start";
    const reward = "reward" in record ? `; mean reward ${percentOneDecimal(record.reward)}` : "";
    return `${when}: held-out exact pass@1 ${percentOneDecimal(record.pass1)}, pass@${about.k} ${percentOneDecimal(record.passk)}${reward}.`;
  }

  /** The RL run's progress line after its latest record. */
  function progressLine(run) {
    const record = run.records[run.records.length - 1];
    const reward =
      "reward" in record
        ? ` · mean reward ${percentOneDecimal(record.reward)} · sorted ${percentOneDecimal(record.sorted)}`
        : "";
    const held = run.records.findLast((r) => "pass1" in r);
    return `Step ${record.iter} of ${run.rl.steps}${parts().paceNote(run, record.iter, run.rl.steps)}${reward} · held-out pass@1 ${percentOneDecimal(held.pass1)} (step ${held.iter})`;
  }

  /** The progress line, the chart, its legend and the log; heard(run, record) adds one,
      restate(run) writes the progress line again when the run's state changes. */
  function runView(widget, about, say) {
    const progress = element("p", { className: "nb-live-readout nb-training-progress" });
    const chart = svg("svg", { class: "nb-replay-chart nb-training-chart", role: "img" });
    const log = parts().logTable(widget.id, logColumns(about), "nb-training-log nb-rl-log");
    let legend = parts().legend(legendEntries(about, null));
    widget.live.append(progress, chart, legend, log.frame);
    let shown = null;
    const redraw = () => shown && drawChart(chart, shown, about);
    const redrawSoon = parts().oncePerFrame(redraw);
    return {
      redraw,
      start(run) {
        shown = run;
        log.clear(logCaption(about));
        say(null); // an earlier run's evaluation still waiting to be said
        const runLegend = parts().legend(legendEntries(about, run)); // its reward's lines
        legend.replaceWith(runLegend);
        legend = runLegend;
        progress.textContent = "";
        redraw();
      },
      heard(run, record) {
        log.add(logCells(record));
        // each evaluation but the last, which the status line's "Done" says
        if ("pass1" in record && record.iter < run.rl.steps)
          say(evaluationText(record, run, about));
        progress.textContent = progressLine(run);
        redrawSoon();
      },
      restate(run) {
        if (run === shown && run.records.length) progress.textContent = progressLine(run);
      },
    };
  }

  /** What the RL widget does with the trainer's messages about a run. */
  function rlHearer(widget, options, { shown, fields, setButtons }) {
    return function hear(run, message) {
      if (run !== shown.run) return; // an earlier run's last words
      if (message.type === "record") {
        run.records.push(message.record);
        shown.view.heard(run, message.record);
        if (run.state === "paused")
          widget.status.textContent = stateText("paused", run, options.about, fields);
        widget.announce({ record: message.record });
      } else if (message.type === "state" && message.state !== "stopped") {
        run.state = message.state;
        run.pace = null;
        shown.view.restate(run); // no estimate while paused or done
        setButtons(message.state);
        widget.status.textContent = stateText(message.state, run, options.about, fields);
      } else if (message.type === "diverged") {
        run.state = "diverged";
        shown.view.restate(run);
        setButtons("diverged");
        widget.status.textContent = parts().divergedText("RL", message, options.about.k);
      } else if (message.type === "error") {
        run.state = "failed";
        shown.view.restate(run);
        setButtons("done");
        widget.status.textContent = `RL stopped: ${message.message}.`;
      }
    };
  }

  /** The RL widget's new run (pressTrain's begin): the view made at the first, the run
      shown in it, and what the trainer starts it with. */
  function beginRL(widget, options, wiring, model, payload) {
    const { shown, fields } = wiring;
    if (!shown.view) {
      shown.view = runView(widget, options.about, wiring.say);
      widget.redraw = shown.view.redraw;
      shown.hear = rlHearer(widget, options, wiring);
    }
    const { settings, rl } = chosenRun(fields, payload.rules);
    const { config, vocab, shown: letters, task } = model;
    const shape = { config, vocab, shown: letters, task };
    const run = { settings, rl, payload, shape, records: [], state: "starting" };
    shown.view.start(run);
    const { data, rules } = payload;
    return [run, { config, weights: model.w, settings, rules, data, rl }];
  }

  kit.trainingRun.beginRL = beginRL;
})();
