/* The live-training widget: the reader trains the sort model in the page with settings of
   their own, watches the training and held-out losses come in, follows one step through
   the phases of train.fit (marking the lines of train.py that run each one, when the page
   shows them), and hands the model they trained to the page's attention and sampling
   widgets.

   Before the reader presses Train the page holds only this script and the controls: the
   bounds, the book run's values and the phases' lines come in the widget's options (from
   ext/live_models/training_widget.py). Train loads the trainer (nanobook_train.js, which
   runs in a Web Worker where it can) and the run's export: the book run's starting
   weights, the trainer's rules and data, the book's log, and how to draw another start.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, reducedMotion, percentOneDecimal, svg, svgText } = kit;
  const PHASE_PAUSE_MS = 450; // how long a step's walk through its phases shows each one

  // --- the reader's settings ----------------------------------------------------------

  /** One control: a number box held to the build's bounds, a switch, or a choice among
      the build's [value, label] pairs. read() gives the value the run's settings take
      (a switch: the build's on or off value); asBook() whether it holds the book run's
      value, which bookValue says as the control shows it. */
  function controlField(widgetId, control) {
    const id = `${widgetId}-${control.name}`;
    if (control.kind === "choice") {
      const choices = control.choices.map(([value, text]) => element("option", { value, text }));
      const select = element("select", { id }, ...choices);
      select.value = control.value;
      const field = kit.field(control.label, select);
      const bookValue = control.choices.find(([value]) => value === control.book)[1];
      const asBook = () => select.value === control.book;
      return { control, input: select, field, read: () => select.value, asBook, bookValue };
    }
    if (control.kind === "switch") {
      const box = element("input", { type: "checkbox", id });
      box.checked = control.value;
      const field = kit.field(control.label, box);
      const read = () => (box.checked ? control.on : control.off);
      const asBook = () => box.checked === control.book;
      return { control, input: box, field, read, asBook, bookValue: control.book ? "on" : "off" };
    }
    return numberField(id, control);
  }

  /** What the arrow keys do to a decimal setting, in the hint's words: the build's rule. */
  function arrowsText({ times, plus }) {
    return times
      ? `the arrow keys multiply or divide it by ${times}`
      : `the arrow keys move it by ${plus}`;
  }

  /** A number box held to the build's bounds, with its range said below it and a line for
      what is wrong with it (both its description). A decimal setting takes any value
      typed; its arrow keys move it as the build says (control.arrows: a learning rate
      doubled and halved, a weight decay by a step), never beyond the bounds: the
      browser's own step for any value is 1, which took a rate from 0.003 to the bound. */
  function numberField(id, control) {
    const step = control.step ?? (control.kind === "int" ? 1 : "any");
    const input = element("input", {
      type: "number",
      id,
      min: String(control.min),
      max: String(control.max),
      step: String(step),
      value: String(control.value),
      inputmode: control.kind === "int" ? "numeric" : "decimal",
      "aria-describedby": `${id}-range ${id}-problem`,
    });
    const stepText = control.step ? `, in steps of ${control.step}` : "";
    const arrows = control.arrows ? `; ${arrowsText(control.arrows)}` : "";
    const range = kit.hint(`${id}-range`, `${control.min} to ${control.max}${stepText}${arrows}`);
    const problem = element("span", { className: "nb-training-problem", id: `${id}-problem` });
    if (control.arrows) {
      input.dataset.arrows = "build"; // the browser's spin buttons, which step by 1, hidden
      input.addEventListener("keydown", (event) => arrowMove(event, input, control));
    }
    // a field said to be wrong is said to be right again as soon as it is
    input.addEventListener("input", () => {
      if (
        input.getAttribute("aria-invalid") === "true" &&
        input.value !== "" &&
        input.checkValidity()
      )
        markProblem(input, problem, "");
    });
    const field = kit.field(control.label, input, range, problem);
    const read = () => Number(input.value);
    const asBook = () => input.value !== "" && read() === control.book;
    return { control, input, problem, field, read, asBook, bookValue: String(control.book) };
  }

  /** Up or Down on a decimal setting: its value moved by the build's rule, held to its
      bounds, as if typed (the start note follows it). */
  function arrowMove(event, input, control) {
    const up = { ArrowUp: true, ArrowDown: false }[event.key];
    const value = Number(input.value);
    if (up === undefined || input.value === "" || !Number.isFinite(value)) return;
    event.preventDefault();
    const { times, plus } = control.arrows;
    const moved = times ? (up ? value * times : value / times) : value + (up ? plus : -plus);
    // twelve digits: 0.1 + 0.2 is shown as 0.3, not 0.30000000000000004
    const held = Math.min(control.max, Math.max(control.min, Number(moved.toPrecision(12))));
    input.value = String(held);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /** A field said to be wrong (`text`, its problem line) or right again (""). */
  function markProblem(input, problem, text) {
    input.setAttribute("aria-invalid", text ? "true" : "false");
    problem.textContent = text;
  }

  /** The first setting typed wrong, said under its field (its description) and in the
      return value, as the bounds say it, with the keyboard's focus on it; null if none. */
  function settingsProblem(fields) {
    for (const { control, input, problem } of fields) {
      if (!problem) continue; // a switch or a choice is never wrong
      if (input.value !== "" && input.checkValidity()) {
        markProblem(input, problem, "");
        continue;
      }
      const kind = control.kind === "int" ? "a whole number" : "a number";
      const step = control.step ? `, a multiple of ${control.step}` : "";
      const text = `${control.label}: give ${kind} from ${control.min} to ${control.max}${step}.`;
      markProblem(input, problem, text);
      input.focus();
      return text;
    }
    return null;
  }

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

  /** Whether the chosen run starts from the book run's weights, which the build exported. */
  function startsAsBook(start, fields) {
    return fields.every(
      ({ control, read }) => !(control.name in start) || read() === start[control.name],
    );
  }

  /** "learning rate 0.01": a setting and a value of it, as the note says them. */
  const settingText = (field, value) => `${field.control.label.toLowerCase()} ${value}`;

  /** Where the run starts, and whether it retraces the book's run: only with every
      setting the book run's (its start, and all that shapes its steps). */
  function startText(start, fields) {
    const book = Object.entries(start)
      .map(([name, value]) =>
        settingText(
          fields.find((f) => f.control.name === name),
          value,
        ),
      )
      .join(", ");
    if (!startsAsBook(start, fields)) {
      return `With another seed, depth or width than the book's (${book}), the page draws the starting weights itself, as model.py's rules say but with its own generator: the start differs from PyTorch's. The batches are still the ones train.py draws with this seed.`;
    }
    const own = `The run starts from the book run's own weights (PyTorch's, exported by the build: ${book})`;
    const changed = fields.filter((f) => !f.asBook());
    if (!changed.length)
      return `${own} with the book run's settings, so its first steps retrace the book's run.`;
    const books = changed.map((f) => settingText(f, f.bookValue)).join(", ");
    return `${own}, but with settings of your own where the book's run had ${books}: it does not retrace the book's run.`;
  }

  /** The field that sets train.py's setting `key` (its control's `sets` say which). */
  const fieldSetting = (fields, key) => fields.find((f) => f.control.sets.settings?.includes(key));

  /** A note when the run would end inside its warmup: get_lr raises the rate while
      iter_num < warmup_iters, and the run's last step has iter_num max_iters - 1. Not a
      problem (the run is still a run), so said beside the settings, never refused. */
  function warmupText(fields) {
    const [stepsField, warmupField] = ["max_iters", "warmup_iters"].map((key) =>
      fieldSetting(fields, key),
    );
    const typed = (f) => f.input.value !== "" && f.input.checkValidity();
    if (!typed(stepsField) || !typed(warmupField)) return ""; // said when Train is pressed
    const [steps, warmup] = [stepsField.read(), warmupField.read()];
    if (steps > warmup) return "";
    return `With ${steps} steps and ${warmup} warmup steps the run never leaves its warmup: the rate climbs at every step and never reaches the learning rate you chose.`;
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

  let trainerLoading = null;

  /** nanobook_train.js, added to the page once, when the reader first presses Train. */
  function loadTrainer(src) {
    if (nanobook.training) return Promise.resolve();
    trainerLoading ||= new Promise((resolve, reject) => {
      const script = element("script", { src });
      script.addEventListener("load", resolve);
      script.addEventListener("error", () => {
        trainerLoading = null;
        reject(new Error("the trainer could not be loaded"));
      });
      document.head.append(script);
    });
    return trainerLoading;
  }

  // --- what the page shows of a run ---------------------------------------------------

  const loss4 = (value) => (Number.isFinite(value) ? value.toFixed(4) : String(value));

  /** A run's log that screen readers read and readers copy: a table with a caption, its
      rows added as the run goes, kept scrolled to the newest unless the reader scrolled up. */
  function logTable(widgetId, columns, className) {
    const body = element("tbody");
    const header = element(
      "tr",
      {},
      ...columns.map((text) => element("th", { scope: "col", text })),
    );
    const caption = element("caption", { id: `${widgetId}-log-title`, text: "Your run's log" });
    const table = element(
      "table",
      { className, id: `${widgetId}-log` },
      caption,
      element("thead", {}, header),
      body,
    );
    const box = element(
      "div",
      {
        className: "nb-training-log-box",
        role: "region",
        tabindex: "0",
        "aria-labelledby": caption.id,
      },
      table,
    );
    return {
      box,
      clear(text) {
        body.replaceChildren();
        caption.textContent = text;
      },
      add(cells) {
        const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
        body.append(element("tr", {}, ...cells.map((text) => element("td", { text }))));
        if (atBottom) box.scrollTop = box.scrollHeight;
      },
    };
  }

  /** The log as train.fit keeps it: every log_interval steps and at each evaluation. */
  const LOG_COLUMNS = ["Step", "Training loss", "Held-out loss", "Held-out accuracy"];
  const logCaption = (s) =>
    `Your run's log: the training loss every ${s.log_interval} steps, the held-out loss and the share of held-out problems sorted right at each evaluation (every ${s.eval_interval} steps and at the end)`;
  const logCells = (record) => [
    String(record.iter),
    loss4(record.loss),
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
      `Your run's training loss over ${last ? last.iter : 0} of ${lastStep} steps${last ? `, now ${loss4(last.loss)}` : ""}${val ? `; held-out loss ${loss4(val.val_loss)} at step ${val.iter}` : ""}. The book's run is drawn dashed for comparison.`,
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
        return `a gradient for every one of the ${run.parameters.toLocaleString("en")} weights`;
      case "clip":
        if (record.norm === null) return "clipping is off: the gradients stay as they are";
        return record.norm > clip
          ? `their norm ${record.norm.toFixed(3)} is above ${clip}: all scaled down to ${clip}`
          : `their norm ${record.norm.toFixed(3)} is within ${clip}: left as they are`;
      default:
        return `AdamW moved every weight: step ${record.iter} done`;
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

  // --- the widget -----------------------------------------------------------------------

  // A button that a state disables hands the keyboard's focus to the one to press next.
  const NEXT_BUTTON = {
    pause: "resume",
    resume: "pause",
    train: "pause",
    step: "train",
    hand: "train",
  };

  /** The widget's buttons for each state of the run ("idle", "loading", "running",
      "paused", "done"), keeping the focus on an enabled one. While the trainer loads
      every button is disabled: the focus waits, and goes to Pause (or Train) as soon as
      one is enabled, unless the reader has moved it elsewhere. */
  function buttonSetter(buttons) {
    let waiting = null; // [the button that lost the focus, the one to hand it to]
    function handOn() {
      const [from, to] = waiting;
      const active = document.activeElement;
      if (active !== document.body && active !== from && !active?.disabled) {
        waiting = null; // the reader has moved on
        return;
      }
      const next = to.disabled ? buttons.train : to;
      if (next.disabled) return;
      next.focus({ preventScroll: true }); // a reader who scrolled away stays where they are
      waiting = null;
    }
    return (state) => {
      const focused = Object.keys(buttons).find((key) => buttons[key] === document.activeElement);
      buttons.train.disabled = state === "loading"; // while running: a new run replaces it
      buttons.pause.disabled = state !== "running";
      buttons.resume.disabled = state !== "paused";
      buttons.step.disabled = state !== "paused";
      if (buttons.hand) buttons.hand.disabled = state !== "paused" && state !== "done";
      if (focused && buttons[focused].disabled) {
        waiting = [buttons[focused], buttons[NEXT_BUTTON[focused]]];
      }
      if (waiting) handOn();
      // a run has finished, failed or been paused: Train would start another
      if (state === "done" || state === "paused") buttons.train.textContent = "Train again";
    };
  }

  /** The controls, the start note, the note on a run that never leaves its warmup, and
      the buttons (runButtons). */
  function trainingControls(widget, options) {
    const fields = options.controls.map((control) => controlField(widget.id, control));
    const settings = element(
      "div",
      { className: "nb-training-settings", role: "group", "aria-label": "Training settings" },
      ...fields.map((f) => f.field),
    );
    const start = element("p", { className: "nb-live-hint nb-training-start" });
    // said when it appears or goes, and part of the two fields' descriptions
    const warmup = element("p", {
      className: "nb-live-hint nb-training-warmup",
      id: `${widget.id}-warmup`,
      "aria-live": "polite",
    });
    for (const key of ["max_iters", "warmup_iters"]) {
      const { input } = fieldSetting(fields, key);
      input.setAttribute(
        "aria-describedby",
        `${input.getAttribute("aria-describedby")} ${warmup.id}`,
      );
    }
    const sayStart = () => {
      start.textContent = startText(options.start, fields);
      const note = warmupText(fields);
      if (warmup.textContent !== note) warmup.textContent = note; // said once, not per key
    };
    // as the reader types, not when the field loses focus: a note that grew then would
    // move Train from under a click that is on its way to it
    for (const { input } of fields) input.addEventListener("input", sayStart);
    sayStart();
    const buttons = runButtons(options.preset);
    widget.controls.append(
      settings,
      start,
      warmup,
      element("div", { className: "nb-live-buttons nb-live-row" }, ...Object.values(buttons)),
    );
    return { fields, buttons };
  }

  /** Train, Pause, Resume and Step, and Use my model when the page has a widget to take
      it (an attention or sampling widget of the same model). */
  function runButtons(preset) {
    const buttons = {
      train: kit.button("Train"),
      pause: kit.button("Pause"),
      resume: kit.button("Resume"),
      step: kit.button("Step"),
    };
    const takers = receivers(preset);
    if (takers) buttons.hand = kit.button(`Use my model in the ${takers}`);
    return buttons;
  }

  /** Enter in a number box presses Train, as Enter in the tools' and chat widgets' boxes
      asks for their reply (not while Train is disabled: the trainer is loading). */
  function trainOnEnter(fields, train) {
    for (const { input } of fields) {
      if (input.type !== "number") continue;
      input.addEventListener("keydown", (event) => {
        if (event.key !== "Enter" || train.disabled) return;
        event.preventDefault();
        train.click();
      });
    }
  }

  /** Which widgets of the page can take the reader's model in the book's place, in words
      ("attention widget", "attention and sampling widgets"), or "" when there are none. */
  function receivers(preset) {
    const model = `[data-nanobook-model="${CSS.escape(preset)}"]`;
    const kinds = ["attention", "sampling"].filter((kind) =>
      document.querySelector(`.nb-live-${kind}${model}`),
    );
    if (!kinds.length) return "";
    return `${kinds.join(" and ")} widget${kinds.length > 1 ? "s" : ""}`;
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
    return `Done: ${last.iter} steps, last training loss ${loss4(last.loss)}${heldOut}.${then}`;
  }

  /** A line only screen readers get, beside the status line, that says each evaluation
      of a run once (the progress line, rewritten at every step, is not said): returns
      say(text). The run's last evaluation is the status line's "Done". */
  function evaluationNews(widget) {
    const news = element("p", { className: "nb-live-sr", "aria-live": "polite" });
    widget.status.after(news);
    return (text) => {
      news.textContent = text;
    };
  }

  /** An evaluation in words: the step, the losses and the held-out accuracy. */
  const evaluationText = (record, s) =>
    `Evaluation at step ${record.iter} of ${s.max_iters}: training loss ${loss4(record.loss)}, held-out loss ${loss4(record.val_loss)}, held-out accuracy ${percentOneDecimal(record.accuracy)}.`;

  /** What the live part shows of a run: the progress line, the phases, the chart, its
      legend and the log. heard(run, record) adds a record; a stepped one walks the phases. */
  function runView(widget, options) {
    const say = evaluationNews(widget);
    const progress = element("p", { className: "nb-live-readout nb-training-progress" });
    const chart = svg("svg", { class: "nb-replay-chart nb-training-chart", role: "img" });
    const log = logTable(widget.id, LOG_COLUMNS, "nb-training-log");
    const phases = phasePanel(widget.id, options.phases);
    const maps = attentionPanel(widget.id);
    widget.live.append(progress, phases.element, chart, legend(LEGEND), maps.element, log.box);
    let shown = null;
    let scored = null; // the run's latest evaluation
    const redraw = () => {
      if (shown) drawChart(chart, shown.records, shown.payload.book, shown.settings.max_iters);
      maps.draw();
    };
    const redrawSoon = oncePerFrame(redraw); // one drawing a frame, however many records
    return {
      redraw,
      start(run) {
        shown = run;
        scored = null;
        log.clear(logCaption(run.settings));
        maps.clear();
        phases.reset();
        progress.textContent = "";
        redraw();
      },
      heard(run, record, stepped) {
        const s = run.settings;
        if (record.iter % s.log_interval === 0 || "val_loss" in record) log.add(logCells(record));
        if ("accuracy" in record) scored = record;
        if (scored === record && record.iter < s.max_iters) say(evaluationText(record, s));
        const accuracy = scored
          ? ` · held-out accuracy ${percentOneDecimal(scored.accuracy)} at step ${scored.iter}`
          : "";
        progress.textContent = `Step ${record.iter} of ${s.max_iters} · training loss ${loss4(record.loss)} · learning rate ${Number(record.lr.toPrecision(3))}${accuracy}`;
        phases.show(record, run);
        maps.show(record, run);
        if (stepped) phases.walk();
        redrawSoon();
      },
    };
  }

  /** The widget's model and its export, and the trainer: what pressing Train loads. */
  async function loadForTraining(widget, name, trainer) {
    const loaded = new Promise((resolve, reject) => {
      nanobook.model(name).catch(reject);
      widget.ready(resolve);
    });
    const [model] = await Promise.all([loaded, loadTrainer(trainer)]);
    return [model, await nanobook.data(name)];
  }

  /** What pressing Train does in either widget: the settings checked, the run shown
      stopped, the model, its export and the trainer loaded; then ``begin(model,
      exported)`` gives the new run and what the trainer starts it with. The run becomes
      ``shown.run`` and the trainer's messages go to ``shown.hear(run, message)``. */
  async function pressTrain(widget, shown, { fields, setButtons, trainer, loading }, begin) {
    const problem = settingsProblem(fields);
    if (problem) {
      widget.status.textContent = problem;
      return;
    }
    shown.run?.handle.stop();
    shown.run = null;
    setButtons("loading");
    widget.status.textContent = loading;
    try {
      const name = widget.root.dataset.nanobookModel;
      const [model, exported] = await loadForTraining(widget, name, trainer);
      // the live part takes the recorded run's place only now that all of it is in:
      // shown with the model alone, a trainer that failed left an empty chart
      widget.showLive(true);
      const [run, started] = begin(model, exported);
      shown.run = run;
      run.handle = nanobook.training.start(started, (message) => shown.hear(run, message));
    } catch (error) {
      setButtons("idle");
      widget.showLive(false); // the book's run, whichever part failed first
      const tables = widget.root.querySelectorAll(".nb-live-static table");
      const book = [...tables].some((table) => table.offsetParent !== null);
      const said = book ? " The table shows the book's run." : "";
      widget.status.textContent = `The trainer is not available: ${error.message}.${said}`;
    }
  }

  /** The buttons acting on the run shown (``current()``): Train starts another, Pause,
      Resume and Step ask the trainer, and Use my model hands the run over. */
  function wireButtons(buttons, current, train, hand) {
    buttons.train.addEventListener("click", train);
    buttons.pause.addEventListener("click", () => current()?.handle.pause());
    buttons.resume.addEventListener("click", () => current()?.handle.resume());
    buttons.step.addEventListener("click", () => {
      const run = current();
      if (!run) return;
      run.stepping = true; // its next record walks the phases
      run.handle.step();
    });
    buttons.hand?.addEventListener("click", () => current() && hand(current()));
  }

  /** A run in the trainer: its settings, shape, export and records, its state as the
      trainer last said it, and whether the reader asked for one step. */
  function newRun(fields, options, model, payload) {
    const { settings, config } = chosenRun(fields, payload);
    const fromBook = startsAsBook(options.start, fields);
    const weights = fromBook ? model.w : drawnWeights(payload.draw, config, settings.seed);
    const parameters = Object.values(weights).reduce((n, w) => n + w.length, 0);
    const run = { settings, config, parameters, payload, weights, records: [] };
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
    widget.status.textContent = `${whose[0].toUpperCase()}${whose.slice(1)} as it was after step ${iter} is now in the ${receivers(preset)}; a Model menu there switches back to the book's.`;
  }

  /** The training widget's run, handed over as "your model". */
  function handRun(widget, options, run) {
    const shape = { ...run.payload, config: run.config }; // the reader's shape, not the book's
    return handOver(widget, options.preset, run.handle, shape, "your model");
  }

  function trainingWidget(root, options) {
    const widget = kit.setUp(root, options, { loadWhenSeen: false });
    widget.status.textContent =
      "Choose the settings, then press Train: the model trains in this page.";
    const { fields, buttons } = trainingControls(widget, options);
    trainOnEnter(fields, buttons.train);
    const setButtons = buttonSetter(buttons);
    setButtons("idle");
    const view = runView(widget, options);
    widget.redraw = view.redraw;
    const say = (state, run) => {
      widget.status.textContent = stateText(state, run, buttons.hand && receivers(options.preset));
    };
    const shown = { run: null, hear }; // the run shown, and what hears its trainer

    function hear(run, message) {
      if (run !== shown.run) return; // an earlier run's last words
      if (message.type === "record") {
        const { record } = message;
        const stepped = run.stepping;
        run.stepping = false;
        run.records.push(record);
        view.heard(run, record, stepped);
        // the step under way when the reader paused ends after the pause is heard
        if (run.state === "paused" && !stepped) say("paused", run);
        if (stepped) {
          widget.status.textContent = `Step ${record.iter} done, training loss ${loss4(record.loss)}: the phases below show what it did.`;
        }
        widget.announce({ record });
      } else if (message.type === "state" && message.state !== "stopped") {
        run.state = message.state;
        setButtons(message.state);
        say(message.state, run);
      } else if (message.type === "error") {
        setButtons("done");
        widget.status.textContent = `Training stopped: ${message.message}.`;
      }
    }

    const loading = "Loading the trainer and the book run's start…";
    const pressed = { fields, setButtons, trainer: options.trainer, loading };
    const train = () =>
      pressTrain(widget, shown, pressed, (model, exported) => {
        const run = newRun(fields, options, model, exported);
        view.start(run);
        const { config, weights, settings, payload } = run;
        return [run, { config, weights, settings, rules: payload.rules, data: payload.data }];
      });
    wireButtons(
      buttons,
      () => shown.run,
      train,
      (run) => handRun(widget, options, run),
    );
    return widget;
  }

  kit.add("training", trainingWidget);
  // what the RL widget (nanobook_training_rl.js) shares with this one
  kit.trainingParts = {
    controlField,
    pressTrain,
    buttonSetter,
    wireButtons,
    logTable,
    polyline,
    axes,
    legend,
    oncePerFrame,
    receivers,
    handOver,
    runButtons,
    trainOnEnter,
    evaluationNews,
  };
  // tests/test_live_training_widget.py compares the starts it draws with model.py's
  nanobook._drawnWeights = drawnWeights;
})();
