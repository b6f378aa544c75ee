/* The widgets' kit, on top of nanobook_live.js: what every live widget shares, and the
   start-up that finds the page's widgets.

   Each widget is a <section class="nb-live" data-live='{options}'> holding the static
   rendering made at build time. The controls appear at once; the model's script is
   added to the page only when the widget scrolls near the screen or the reader first
   uses a control, and the live rendering then takes the static one's place. Every
   problem (bad input, a model that cannot load) is said in the widget's status line.
   Each result fires a "nanobook:result" event on the widget (the bench times them).
   Each kind has a script of its own, which the build adds after this one on the pages
   that show it (nanobook_attention.js, nanobook_sampling.js, nanobook_replay.js,
   nanobook_predict.js, nanobook_tools.js, nanobook_chat.js, nanobook_training.js): it
   builds on the helpers of nanobook.widgets and hands its widgets' maker to
   nanobook.widgets.add(kind, make).
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

  /** "1 step", "2 steps": a count with its noun, singular for one ("Done: 1 steps" was
      said after a one-step run). */
  const counted = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

  /** A share as a percentage to one decimal ("12.3%"), for a run's rates that move by less
      than a whole percent and for every accuracy (as the build writes them); "–" where
      there is none (a record without it). */
  const percentOneDecimal = (share) =>
    Number.isFinite(share) ? `${(100 * share).toFixed(1)}%` : "–";

  /** A probability listed with others of its distribution (a sampling step's tokens): to
      one decimal, so that the list adds up to 100% within a rounding the reader can see
      (whole percents gave "99%, 1%, 1%"); a share too small for a decimal is "<0.1%" and
      one just short of all is ">99.9%", neither said as 0 or 100; exactly 0 (cut) is 0%. */
  function sharePercent(p) {
    if (p === 0 || p === 1) return `${100 * p}%`;
    if (p < 0.0005) return "<0.1%";
    return p >= 0.9995 ? ">99.9%" : percentOneDecimal(p);
  }

  /** Whether a vocabulary is short enough for a hint or a problem to list it whole (the
      sort model's letters are; the char model's characters are not). */
  const shortEnoughToList = (vocab) => vocab.length <= 10;

  /** The input as the model reads it: upper-cased when only its case keeps the model
      from reading it (the sort model knows A, B, C; "cbacab" means CBACAB). */
  function normalised(model, input) {
    const text = input.value;
    const upper = text.toUpperCase();
    const known = (t) => [...t].every((ch) => model.stoi.has(ch));
    if (upper !== text && !known(text) && known(upper)) {
      const { selectionStart: start, selectionEnd: end } = input;
      input.value = upper; // which moves the caret to the end: it goes back where it was
      if (upper.length === text.length && start !== null) input.setSelectionRange(start, end);
    }
    return input.value;
  }

  /** The likeliest token of a logits row: the first of ties, as torch's argmax. */
  function argmax(row) {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  }

  /** Why `text` cannot be read by the `name` model, or null: the build's rule, handed to
      the page as data (`rule`: compute.prompt_rule's characters, shortest and longest). */
  function problemWith(rule, name, text) {
    const length = [...text].length;
    if (length < rule.shortest) {
      const tokens = rule.shortest === 1 ? "one token" : `${rule.shortest} tokens`;
      return `Type a prompt: the ${name} model needs at least ${tokens}.`;
    }
    const known = new Set(rule.characters);
    const unknown = [...new Set([...text].filter((ch) => !known.has(ch)))];
    if (unknown.length) {
      const list = unknown.map((ch) => `“${ch}”`).join(", ");
      const all = rule.characters;
      const vocab = shortEnoughToList(all) ? ` It knows only ${all.join(", ")}.` : "";
      return `${list} ${unknown.length > 1 ? "are" : "is"} not in the ${name} model's vocabulary.${vocab}`;
    }
    if (length > rule.longest) {
      return `The ${name} model reads at most ${rule.longest} tokens (its block_size); this prompt has ${length}.`;
    }
    return null;
  }

  function cssColour(root, name, fallback) {
    return getComputedStyle(root).getPropertyValue(name).trim() || fallback;
  }

  /** `widget.ready`: load the widget's model (once), then run `callback(model)` (or
      `failed()` if it cannot be loaded, its status line saying why); the live
      rendering then takes the static one's place. `loaded(model)` once it is in. A widget
      that loads on its own terms (`ownTerms`: live-training, which needs more than the
      model) keeps its status line as it is and shows its live part itself. */
  function modelLoader(widget, loaded, ownTerms) {
    const { root, status } = widget;
    let loading = null;
    return (callback, failed = () => {}) => {
      if (!loading) {
        const name = root.dataset.nanobookModel;
        // a model, or a plain record such as "sort-replay"
        const load = name.endsWith("-replay") ? nanobook.data : nanobook.model;
        if (!ownTerms) {
          status.textContent = name.endsWith("-replay")
            ? "Loading the training replay…"
            : `Loading the ${name} model…`;
        }
        loading = load(name).then(
          (model) => {
            widget.model = model;
            if (!ownTerms) {
              widget.showLive(true);
              if (status.textContent.startsWith("Loading")) status.textContent = "";
            }
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
      loading.then(callback, failed);
    };
  }

  /** First use, or the widget coming near the screen, loads the model. */
  function loadWhenNear(widget) {
    const { root } = widget;
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
  }

  /** Live regions a Play rewrites many times a second: silent while it plays, then what
      they show is said once when it stops. */
  function quietWhilePlaying(regions, playing) {
    for (const region of regions) {
      region.setAttribute("aria-live", playing ? "off" : "polite");
      if (!playing) region.replaceChildren(region.textContent);
    }
  }

  /** A live region's new text, written only when it differs: a region rewritten with the
      text it already shows is said again: each step of the sampler's temperature slider
      repeated "Press Step to draw one token…" and the out-of-training note. */
  function write(region, text) {
    if (region.textContent !== text) region.textContent = text;
  }

  /** While the reader's input is `rejected` (its problem said in the status line), the
      result the live part shows answered an earlier input: it goes, for the eye and for a
      screen reader (it was only dimmed, beside the problem as if it answered the new
      input, and still read as current). Its readouts stay in place, emptied, so that the
      next result the widget writes there is said; a valid input shows the live part again
      (the widget then draws its result). */
  function hideStale(widget, rejected) {
    widget.live.classList.toggle("nb-live-stale", rejected);
    if (!rejected) return;
    for (const readout of widget.live.querySelectorAll(".nb-live-readout")) {
      readout.textContent = "";
    }
  }

  /** A field the widget rejects (`invalid`) is marked so, and described by the status
      line that says why while it does (`said`): coming back to the field, a screen reader
      reads the reason with "invalid", not the hint alone. */
  function markInvalid(widget, input, invalid, said = invalid) {
    input.setAttribute("aria-invalid", invalid ? "true" : "false");
    const status = widget.status.id;
    const ids = (input.getAttribute("aria-describedby") || "").split(" ");
    const others = ids.filter((id) => id && id !== status);
    const described = [...others, ...(said ? [status] : [])].join(" ");
    if (described) input.setAttribute("aria-describedby", described);
    else input.removeAttribute("aria-describedby");
  }

  // how long a reader typing pauses before what the typing changed is said (ms)
  const PAUSE = 500;
  const saying = new WeakMap(); // a live region -> its timer, while the reader types

  /** `text` shown in a live region at once. A screen reader hears it at once, or, while the
      reader is `typing`, once they pause: not a new sentence at each keystroke. */
  function say(region, text, { typing = false } = {}) {
    clearTimeout(saying.get(region));
    region.setAttribute("aria-live", typing ? "off" : "polite");
    region.textContent = text;
    if (!typing) return;
    const later = () => {
      region.setAttribute("aria-live", "polite");
      region.replaceChildren(region.textContent); // said now, as a change of the region
    };
    saying.set(region, setTimeout(later, PAUSE));
  }

  /** The live regions of a widget silent while `rerun()` redraws it, then live again once
      it is drawn (widget.ready) and a frame has passed, so that a screen reader does not
      hear the redrawn text: a model handed over from a training widget redrew the
      attention and sampling widgets far below it, and their status, readout and cell
      lines were all said after the training widget's own line that says where it went. */
  function quietly(widget, rerun) {
    const selector = "[aria-live], [role=status], [role=log], [role=alert]";
    const regions = [...widget.root.querySelectorAll(selector)].filter(
      (region) => region.getAttribute("aria-live") !== "off",
    );
    const before = regions.map((region) => region.getAttribute("aria-live"));
    for (const region of regions) region.setAttribute("aria-live", "off");
    // a widget that turns a region on itself as it draws (the attention widget's cell
    // line) leaves it off while this is set: a widget not yet loaded draws twice, on its
    // load and for rerun(), and the second draw turned the cell line on again while the
    // first one's text was still to be said
    widget.quiet = true;
    rerun();
    const restore = () => {
      widget.quiet = false;
      regions.forEach((region, i) => {
        if (region.getAttribute("aria-live") !== "off") return; // the widget set it since
        if (before[i] === null) region.removeAttribute("aria-live");
        else region.setAttribute("aria-live", before[i]);
      });
    };
    // two frames: the accessibility tree takes in the redrawn text while still quiet; a
    // model that failed to load is said at once (its status line)
    widget.ready(() => requestAnimationFrame(() => requestAnimationFrame(restore)), restore);
  }

  /** A Play button's loop: start(tick) calls tick() every `ms` while it says another frame
      follows; stop() ends it. While it plays the button says Pause and the `spoken()`
      regions are quiet; when it stops they are said once and the button says again what it
      said (Play). */
  function player(button, spoken, ms) {
    const idle = button.textContent;
    let timer = 0; // the next frame's timeout; -1 before the first; 0 when stopped
    const loop = {
      get playing() {
        return timer !== 0;
      },
      start(tick) {
        button.textContent = "Pause";
        button.classList.add("nb-live-playing");
        quietWhilePlaying(spoken(), true);
        timer = -1;
        const next = () => {
          const more = tick();
          if (!timer) return; // the frame stopped the loop itself (a widget's reset)
          if (more) timer = setTimeout(next, ms);
          else loop.stop();
        };
        next();
      },
      stop() {
        if (timer) quietWhilePlaying(spoken(), false);
        clearTimeout(timer);
        timer = 0;
        button.textContent = idle;
        button.classList.remove("nb-live-playing");
      },
    };
    return loop;
  }

  /** What every widget shares: the lazy model, the status line, the static rendering
      (whose parts for a reader without JavaScript, .nb-live-nojs, go: this reader has it).
      With loadWhenSeen false, the model loads only when the widget asks (ready): a
      widget whose model is large and only needed once the reader acts (live-training);
      such a widget says itself what it loads (its export's name is not the reader's) and
      shows its live part (showLive) once all it needs is in. */
  function setUp(root, options, { loadWhenSeen = true } = {}) {
    const id = `nb-live-${++counter}`;
    const status = element("p", {
      id: `${id}-status`,
      className: "nb-live-status",
      role: "status",
      "aria-live": "polite",
    });
    status.textContent = "The live model loads when you reach it.";
    const live = element("div", { className: "nb-live-body", hidden: "" });
    const staticPart = root.querySelector(".nb-live-static");
    for (const part of root.querySelectorAll(".nb-live-nojs")) part.hidden = true;
    root.prepend(element("div", { className: "nb-live-controls" }), status);
    root.append(live);
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
      /** The live rendering in the static one's place (true), or the static one back. */
      showLive(shown) {
        staticPart.hidden = shown;
        live.hidden = !shown;
      },
      /** Run `callback(model)` once the model is in, without loading it. */
      onLoad(callback) {
        whenLoaded.then(callback);
      },
      /** Run `start(model)` once the model is in, and again each time the reader asks: a
          click, a changed control, Enter in a text field. */
      runWhenAsked(start, { click = [], change = [], enter = [] }) {
        const run = () => widget.ready(start);
        for (const control of click) control.addEventListener("click", run);
        for (const control of change) control.addEventListener("change", run);
        for (const control of enter) {
          control.addEventListener("keydown", (event) => {
            if (event.key === "Enter") run();
          });
        }
        widget.onLoad(start);
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
    /** Load the model (once), then run `callback(model)`. */
    widget.ready = modelLoader(widget, loaded, !loadWhenSeen);
    if (loadWhenSeen) loadWhenNear(widget);
    return widget;
  }

  /** The token indices of `probs`, likeliest first (ties in index order), the first n. */
  function ranked(probs, n) {
    return [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, n);
  }

  /** A text box for a prompt: the browser neither corrects nor capitalises tokens. */
  function textInput(id, value, attributes = {}) {
    return element("input", {
      type: "text",
      id,
      value,
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      ...attributes,
    });
  }

  function button(text, attributes = {}) {
    return element("button", { type: "button", className: "nb-live-button", ...attributes, text });
  }

  /** A hint beside a control (the control's aria-describedby names `id`). */
  function hint(id, text = "") {
    return element("span", { className: "nb-live-hint", id, text });
  }

  /** A control with its label (and whatever shows its value after it). */
  function field(label, control, ...after) {
    return element(
      "div",
      { className: "nb-live-field" },
      element("label", { for: control.id, text: label }),
      control,
      ...after,
    );
  }

  // --- the training distribution -------------------------------------------------------

  /** A text's runs: each number whole, every other character alone ("12+5=" -> 12 + 5 =). */
  const runsOf = (text) => text.match(/[0-9]+|[^0-9]/gu) || [];
  const isNumber = (run) => /^[0-9]/.test(run);

  /** Why `text` is not in the form of `template` (a training prompt, its digits slots). */
  function formProblem(template, text) {
    const want = runsOf(template);
    const got = runsOf(text);
    const same =
      want.length === got.length &&
      want.every((w, i) => (isNumber(w) ? isNumber(got[i]) : w === got[i]));
    if (!same) return `“${text}” is not in that form (${template})`;
    const long = got.find((run, i) => isNumber(run) && run.length !== want[i].length);
    return long ? `“${long}” has ${long.length} digits` : null;
  }

  /** Why `chars` (a prompt) is outside `limits` (lengths, letters, answers), or null. */
  function lettersProblem(limits, chars) {
    const strange = [...new Set(chars.filter((ch) => !limits.letters.includes(ch)))];
    if (strange.length) return `${strange.map((ch) => `“${ch}”`).join(", ")} never appeared`;
    const most = Math.max(...limits.lengths);
    if (limits.lengths.includes(chars.length)) return null;
    if (chars.length < most || !limits.answers) {
      return `this one has ${chars.length} ${limits.unit}`;
    }
    // past the prompt, training only ever showed the answer to its letters
    const order = (ch) => limits.letters.indexOf(ch);
    const key = chars
      .slice(0, most)
      .sort((a, b) => order(a) - order(b))
      .join("");
    const answer = Object.hasOwn(limits.answers, key) ? limits.answers[key] : "";
    const after = chars.slice(most).join("");
    if (after.length <= answer.length && answer.startsWith(after)) return null;
    return `after ${most} ${limits.unit} training always showed their answer “${answer}”, never “${after}”`;
  }

  /** Why `text` is outside what the model was trained on, or null. The limits are the
      build's (distribution.py, from the code that made the training data); a chat run's
      hold each request's own, the request being the text's first character. */
  function offDistribution(limits, text) {
    if (!limits) return null;
    const [first, ...rest] = [...text];
    if (limits.requests) {
      const request = limits.requests[first];
      return request ? lettersProblem(request, rest) : `${first} was never asked`;
    }
    if (limits.template !== undefined) return formProblem(limits.template, text);
    return limits.lengths ? lettersProblem(limits, [...text]) : null;
  }

  /** The hint's first sentence: what the model was trained on. */
  function trainedOn(limits) {
    return limits ? `Trained on ${limits.about}.` : "";
  }

  /** A line under the reply (placed after `after`) that says when the input was never in
      training, described by the input's aria-describedby and read out when it changes.
      Returns show(limits, text): the line for that input, or none (limits null). */
  function trainingNote(widget, input, after) {
    const note = element("p", {
      className: "nb-live-offdist",
      id: `${widget.id}-trained`,
      role: "status", // present while empty, so that what it then says is read out
    });
    after.after(note);
    const described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", described ? `${described} ${note.id}` : note.id);
    return (limits, text) => {
      const reason = offDistribution(limits, text);
      const said = reason
        ? `Outside its training: the model learned from ${limits.about}, and ${reason}. Expect nonsense.`
        : "";
      // said when it changes, not at each redraw that leaves it as it was; while the reader
      // types in the input ("this one has 4 letters", 5, 6…), once they pause
      if (said !== note.textContent) say(note, said, { typing: document.activeElement === input });
    };
  }

  // --- attention maps -----------------------------------------------------------------

  /** The maps' colours, read at each drawing: the reader may switch the theme. */
  /** A model the reader trained may stand in for the book's: nanobook_training.js fires
      "nanobook:model" with it, and a Model menu then appears in the widget's controls to
      choose between the two. `rerun()` shows the widget again with the chosen one.
      Returns pick(book): the model the widget reads with, given the book's. */
  function readersModel(widget, name, rerun) {
    const theirs = { model: null, menu: null };
    document.addEventListener("nanobook:model", (event) => {
      const { name: trained, model, label } = event.detail || {};
      if (trained !== name || !model) return;
      if (!theirs.menu) {
        theirs.menu = element("select", { id: `${widget.id}-model` });
        theirs.menu.append(element("option", { value: "book", text: `the book's ${name} model` }));
        theirs.menu.append(element("option", { value: "reader" }));
        theirs.menu.addEventListener("change", rerun);
        widget.controls.append(field("Model", theirs.menu));
      }
      theirs.model = model;
      theirs.menu.lastChild.textContent = label;
      theirs.menu.value = "reader";
      // the training widget says where the model went; this widget redraws unheard
      quietly(widget, rerun);
    });
    return (book) => (theirs.menu?.value === "reader" ? theirs.model : book);
  }

  function mapColours(root) {
    return {
      ink: cssColour(root, "--nb-live-ink", "#da7756"),
      empty: cssColour(root, "--nb-live-empty", "#eee"),
      mark: cssColour(root, "--nb-live-mark", "#000"),
    };
  }

  /** A head's weights as cells from (left, top): query t's row holds keys 0 to t, each
      the empty colour under the ink at the weight's opacity. */
  function heatCells(context, rows, colours, left, top, cell) {
    rows.forEach((row, t) => {
      for (let j = 0; j <= t; j++) {
        context.globalAlpha = 1;
        context.fillStyle = colours.empty;
        context.fillRect(left + j * cell, top + t * cell, cell, cell);
        context.globalAlpha = Math.min(1, row[j]);
        context.fillStyle = colours.ink;
        context.fillRect(left + j * cell, top + t * cell, cell, cell);
      }
    });
    context.globalAlpha = 1;
  }

  /** A small map filling its square canvas, in device pixels (sharp on any screen);
      returns the canvas's context for marks drawn over it. */
  function headMap(canvas, rows, colours, fallbackSize) {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = canvas.height = Math.round((canvas.clientWidth || fallbackSize) * ratio);
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    heatCells(context, rows, colours, 0, 0, canvas.width / rows.length);
    return context;
  }

  /** Into `layers`: a row for each layer of `attention` ([layer][head]…), a captioned
      figure for each head holding what `makeCanvas(l, h)` gives (a canvas, or a
      headButton around one). Heads' buttons are one stop of the Tab key: the first, until
      another takes the focus. */
  function headGrid(layers, attention, makeCanvas) {
    layers.replaceChildren(
      ...attention.map((heads, l) =>
        element(
          "div",
          { className: "nb-live-layer" },
          element("p", { className: "nb-live-layer-name", text: `Layer ${l}` }),
          ...heads.map((_, h) =>
            element(
              "figure",
              { className: "nb-live-head" },
              makeCanvas(l, h),
              element("figcaption", { text: `head ${h}` }),
            ),
          ),
        ),
      ),
    );
    const first = layers.querySelector(".nb-live-head-button");
    if (first) first.tabIndex = 0;
  }

  // The heads' keys in a grid of buttons: along the heads in order, to the same head of
  // the layer above or below, to the first and the last.
  const HEAD_KEYS = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"];

  /** The head a key moves to from `button` in its grid (none past an edge). */
  function headAfterKey(button, key) {
    const grid = button.closest(".nb-live-layers");
    const rows = [...grid.querySelectorAll(".nb-live-layer")].map((row) => [
      ...row.querySelectorAll(".nb-live-head-button"),
    ]);
    const all = rows.flat();
    const at = all.indexOf(button);
    const layer = rows.findIndex((row) => row.includes(button));
    const sameHead = (row) => row?.[Math.min(rows[layer].indexOf(button), row.length - 1)];
    const moves = {
      ArrowLeft: () => all[at - 1],
      ArrowRight: () => all[at + 1],
      ArrowUp: () => sameHead(rows[layer - 1]),
      ArrowDown: () => sameHead(rows[layer + 1]),
      Home: () => all[0],
      End: () => all[all.length - 1],
    };
    return moves[key]();
  }

  /** A head's small map as a toggle button (aria-pressed, set by its widget) that calls
      `press()`: Enter and Space press it as a click does. Within the grid (headGrid) the
      arrow keys, Home and End move the focus between heads without pressing any, so that
      tabbing past a grid of twelve heads changes nothing; the Tab key comes back to the
      head last focused. */
  function headButton(canvas, press) {
    const button = element(
      "button",
      { type: "button", className: "nb-live-head-button", "aria-pressed": "false", tabindex: "-1" },
      canvas,
    );
    button.addEventListener("click", press);
    button.addEventListener("focus", () => {
      for (const other of button
        .closest(".nb-live-layers")
        .querySelectorAll(".nb-live-head-button")) {
        other.tabIndex = other === button ? 0 : -1;
      }
    });
    button.addEventListener("keydown", (event) => {
      if (!HEAD_KEYS.includes(event.key)) return;
      event.preventDefault(); // not the page's scrolling
      event.stopPropagation(); // nor a theme's arrow-key navigation
      headAfterKey(button, event.key)?.focus();
    });
    return button;
  }

  /** A head's map shown large (the attention widget's chosen head, a training run's head
      the reader enlarged): a caption, the canvas letteredMap draws, a colour legend and,
      where the reader moves over its cells (explore), a line saying the cell's weight.
      A map to explore is a vertical slider over its rows (its widget sets the value: the
      chosen row, counted from the bottom, and the row said in words, aria-valuetext), not
      an image: a screen reader keeps the arrow keys on an image for its own reading, and
      hands them to a slider. */
  function mapFigure(id, { explore = false } = {}) {
    const title = element("figcaption", { className: "nb-live-focus-title" });
    const explored = {
      role: "slider",
      "aria-roledescription": "attention map",
      "aria-orientation": "vertical",
      "aria-valuemin": "0",
      tabindex: "0",
      "aria-describedby": `${id}-cell`,
    };
    const map = element("canvas", {
      className: "nb-live-focus-map",
      ...(explore ? explored : { role: "img" }),
    });
    const legend = element(
      "div",
      { className: "nb-live-legend", "aria-hidden": "true" },
      element("span", { text: "weight 0" }),
      element("span", { className: "nb-live-legend-bar" }),
      element("span", { text: "1" }),
    );
    const cell = explore
      ? element("p", { className: "nb-live-cell", id: `${id}-cell`, "aria-live": "polite" })
      : null;
    const parts = cell ? [title, map, legend, cell] : [title, map, legend];
    const figure = element("figure", { className: "nb-live-focus" }, ...parts);
    return { figure, title, map, cell };
  }

  /** A head's map large, at the canvas's drawn size: each position's letter along the
      top (keys) and down the side (queries), every one while a cell is 9 px or more,
      else every few and always the `query`'s; then the cells. Returns the context, the
      colours and the cells' layout (margin, cell) for marks drawn over them. */
  function letteredMap(canvas, rows, letters, root, query = -1) {
    const T = letters.length;
    const size = canvas.clientWidth || 320;
    const ratio = window.devicePixelRatio || 1;
    const font = Math.max(10, Math.min(15, (size / (T + 1)) * 0.75));
    const margin = font * 1.6;
    const cell = (size - margin) / T;
    const every = Math.ceil(9 / cell);
    canvas.width = canvas.height = Math.round(size * ratio);
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, size, size);
    const colours = mapColours(root);
    const style = getComputedStyle(root);
    const mono = style.getPropertyValue("--pst-font-family-monospace") || "monospace";
    context.font = `${font}px ${mono}`;
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.fillStyle = style.color;
    for (let t = 0; t < T; t++) {
      if (t % every && t !== query) continue;
      context.fillText(letters[t], margin + (t + 0.5) * cell, margin / 2); // keys, along the top
      context.fillText(letters[t], margin / 2, margin + (t + 0.5) * cell); // queries, down the side
    }
    heatCells(context, rows, colours, margin, margin, cell);
    return { context, colours, margin, cell };
  }

  // --- charts -------------------------------------------------------------------------

  function svg(tag, attributes) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  }

  function svgText(text, attributes) {
    const node = svg("text", attributes);
    node.textContent = text;
    return node;
  }

  // .nb-replay-chart's height in nanobook_live.css: a unit of the drawing is a CSS pixel
  const CHART_HEIGHT = 168;

  /** A chart over a run's steps, drawn in CSS pixels of its own width so that its labels
      keep their size on a phone: sets its viewBox and returns the plot's edges, with
      `leftMargin` and `rightMargin` left beside it for labels, and x(step) placing steps
      0 to `lastStep` across it. */
  function chartFrame(chart, { leftMargin, rightMargin, lastStep }) {
    const width = Math.max(300, Math.round(chart.getBoundingClientRect().width) || 600);
    chart.setAttribute("viewBox", `0 0 ${width} ${CHART_HEIGHT}`);
    const [left, right] = [leftMargin, width - rightMargin];
    const x = (step) => left + ((right - left) * step) / lastStep;
    return { left, right, top: 12, bottom: 140, x };
  }

  /** The step axis: a line under the plot of a chartFrame. */
  const chartAxis = ({ left, right, bottom }) =>
    svg("line", { x1: left, y1: bottom, x2: right, y2: bottom, class: "nb-replay-axis" });

  // --- start ------------------------------------------------------------------------

  // kind -> make(root, options), as each kind's script adds it; a Map, so that a kind
  // named like an object's property ("constructor", "__proto__") is unknown like any other
  const kinds = new Map();
  const widgets = [];

  function stayStatic(root, error) {
    root.dataset.liveProblem = String(error?.message ? error.message : error);
    console.warn(
      "nanobook: this live widget's settings cannot be used; it stays static:",
      root.id,
      error,
    );
  }

  function startWidget(root) {
    // one widget whose settings cannot be used keeps its static rendering; the rest start
    try {
      const options = JSON.parse(root.dataset.live);
      const make = kinds.get(options.kind);
      if (!make) return; // its kind's script has not run yet: add() starts it
      root.dataset.liveStarted = "true";
      widgets.push(make(root, options));
    } catch (error) {
      stayStatic(root, error);
    }
  }

  function waiting() {
    return [...document.querySelectorAll(".nb-live[data-live]")].filter(
      (root) => !root.dataset.liveStarted && !root.dataset.liveProblem,
    );
  }

  // Every script of the page has run by its load event: a kind none of them added is unknown.
  function unclaimed() {
    for (const root of waiting()) {
      const { kind } = JSON.parse(root.dataset.live);
      stayStatic(root, new TypeError(`no live widget of kind ${JSON.stringify(kind)}`));
    }
  }

  nanobook.widgets = {
    element,
    setUp,
    argmax,
    ranked,
    problemWith,
    offDistribution,
    trainedOn,
    trainingNote,
    normalised,
    percent,
    percentOneDecimal,
    counted,
    sharePercent,
    shortEnoughToList,
    reducedMotion,
    player,
    write,
    say,
    hideStale,
    markInvalid,
    textInput,
    button,
    hint,
    field,
    readersModel,
    mapColours,
    heatCells,
    headMap,
    headGrid,
    headButton,
    mapFigure,
    letteredMap,
    svg,
    svgText,
    chartFrame,
    chartAxis,
    /** Start the widgets of `kind` with `make(root, options)`, now or at start-up. */
    add(kind, make) {
      kinds.set(kind, make);
      if (document.readyState === "loading") return; // start() will find them
      for (const root of waiting()) startWidget(root);
    },
  };

  /** A static table wider than its column scrolls itself (nanobook_live.css, for the
      shadows at its edges), and what scrolls must take the keyboard's focus: else a
      reader without a pointer never sees its last columns (axe-core's
      scrollable-region-focusable; pydata-sphinx-theme does the same for the wrappers it
      scrolls, never for a table). A table that fits stays out of the tab order. */
  function scrollableByKeys() {
    const fit = new ResizeObserver((entries) => {
      for (const { target } of entries) {
        if (target.scrollWidth > target.clientWidth) target.tabIndex = 0;
        else target.removeAttribute("tabindex");
      }
    });
    for (const table of document.querySelectorAll(".nb-live-static table")) fit.observe(table);
  }

  function start() {
    for (const root of waiting()) startWidget(root);
    scrollableByKeys();
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
  if (document.readyState !== "complete") window.addEventListener("load", unclaimed);
})();
