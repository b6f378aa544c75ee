/* The live-training widget: the reader trains the sort model in the page with settings of
   their own, watches the training and held-out losses come in, follows one step through
   the phases of train.fit (marking the lines of train.py that run each one, when the page
   shows them), and hands the model they trained to the page's attention and sampling
   widgets.

   Before the reader presses Train the page holds only this script and the controls: the
   bounds, the book run's values and the phases' lines come in the widget's options (from
   ext/live_models/training_widget.py). Train loads the trainer (nanobook_train.js, which
   runs in a Web Worker where it can), what shows the run (nanobook_training_run.js) and
   the run's export: the book run's starting weights, the trainer's rules and data, the
   book's log, and how to draw another start.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element } = kit;

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
  /** Whether the chosen run starts from the book run's weights, which the build exported. */
  function startsAsBook(start, fields) {
    return fields.every(
      ({ control, read }) => !(control.name in start) || read() === start[control.name],
    );
  }

  /** "learning rate 0.01": a setting and a value of it, as the note says them. */
  const settingText = (field, value) => `${field.control.label.toLowerCase()} ${value}`;

  /** Whether the chosen run retraces the book's: from its start, with all its settings. */
  const retracesBook = (start, fields) =>
    startsAsBook(start, fields) && fields.every((f) => f.asBook());

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
    if (retracesBook(start, fields))
      return `${own} with the book run's settings, so its first steps retrace the book's run.`;
    const changed = fields.filter((f) => !f.asBook());
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
    return `With ${kit.counted(steps, "step")} and ${kit.counted(warmup, "warmup step")} the run never leaves its warmup: the rate climbs at every step and never reaches the learning rate you chose.`;
  }

  const scriptsLoading = new Map(); // a script's address -> its loading

  /** A script added to the page once, when the reader first presses Train: the trainer
      (nanobook_train.js) or what shows its run (nanobook_training_run.js). */
  function loadScript(src) {
    if (!scriptsLoading.has(src)) {
      const loading = new Promise((resolve, reject) => {
        const script = element("script", { src });
        script.addEventListener("load", resolve);
        script.addEventListener("error", () => {
          scriptsLoading.delete(src); // the next Train tries again
          script.remove();
          reject(new Error("the trainer could not be loaded"));
        });
        document.head.append(script);
      });
      scriptsLoading.set(src, loading);
    }
    return scriptsLoading.get(src);
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
      "paused", "done", "diverged": stopped on a number that is not finite), keeping the focus on an enabled one. While the trainer loads
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
      // a run has finished or failed: Train starts another; paused beside Resume, it
      // reads as what it does there, throwing the run away to begin again
      if (state === "done" || state === "diverged") buttons.train.textContent = "Train again";
      if (state === "paused") buttons.train.textContent = "Start over";
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
    // said when it appears or goes, and part of the two fields' descriptions. Its id is
    // not `${widget.id}-warmup`: that is the Warmup steps field's (controlField), and the
    // two fields' descriptions named the field itself, never the note
    const warmup = element("p", {
      className: "nb-live-hint nb-training-warmup",
      id: `${widget.id}-warmup-note`,
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

  // The least time between two lines of a run's news: about a sentence's reading and a
  // pause. The RL widget evaluates every few steps, about once a second in this page, and
  // each line was said: a screen reader's queue grew a minute behind the run.
  const NEWS_GAP = 10_000; // ms

  /** A line only screen readers get, beside the status line, that says a run's
      evaluations (the progress line, rewritten at every step, is not said): returns
      say(text). One line is said at once; those that come within NEWS_GAP of it wait,
      and only the latest is said when the gap ends, unless the status line has changed
      by then (Paused, Done: the status line says the run's last evaluation) or say(null)
      forgot it (a new run). */
  function evaluationNews(widget) {
    const news = element("p", { className: "nb-live-sr", "aria-live": "polite" });
    widget.status.after(news);
    let last = -Infinity; // when a line was last said
    let waiting = null; // [the latest line not yet said, the status line when it came]
    let timer = 0;
    const sayWaiting = () => {
      timer = 0;
      const [text, status] = waiting;
      waiting = null;
      if (widget.status.textContent !== status) return;
      news.textContent = text;
      last = performance.now();
    };
    return (text) => {
      if (text === null) {
        waiting = null;
        clearTimeout(timer);
        timer = 0;
        return;
      }
      waiting = [text, widget.status.textContent];
      const wait = last + NEWS_GAP - performance.now();
      if (wait <= 0) sayWaiting();
      else if (!timer) timer = setTimeout(sayWaiting, wait);
    };
  }

  /** The widget's model and its export, the trainer and what shows its run: what
      pressing Train loads. */
  async function loadForTraining(widget, name, { trainer, view }) {
    const loaded = new Promise((resolve, reject) => {
      nanobook.model(name).catch(reject);
      widget.ready(resolve);
    });
    const scripts = [nanobook.training || loadScript(trainer), kit.trainingRun || loadScript(view)];
    const [model] = await Promise.all([loaded, ...scripts]);
    return [model, await nanobook.data(name)];
  }

  /** What pressing Train does in either widget: the settings checked, the run shown
      stopped, the model, its export, the trainer and what shows its run loaded; then
      ``begin(model, exported)`` gives the new run and what the trainer starts it with.
      The run becomes ``shown.run`` and the trainer's messages go to ``shown.hear(run, message)``. */
  async function pressTrain(widget, shown, pressed, begin) {
    const { fields, setButtons, loading } = pressed;
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
      const [model, exported] = await loadForTraining(widget, name, pressed);
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

  function trainingWidget(root, options) {
    const widget = kit.setUp(root, options, { loadWhenSeen: false });
    widget.status.textContent =
      "Choose the settings, then press Train: the model trains in this page.";
    const { fields, buttons } = trainingControls(widget, options);
    trainOnEnter(fields, buttons.train);
    const setButtons = buttonSetter(buttons);
    setButtons("idle");
    // the run shown, what hears its trainer and the view of it: nanobook_training_run.js's,
    // made when the reader first presses Train
    const shown = { run: null, hear: null, view: null };
    const say = evaluationNews(widget); // there from the start, as the status line is
    const wiring = { shown, fields, buttons, setButtons, say };
    const loading = "Loading the trainer and the book run's start…";
    const { trainer, view } = options;
    const pressed = { fields, setButtons, trainer, view, loading };
    const train = () =>
      pressTrain(widget, shown, pressed, (model, exported) =>
        kit.trainingRun.beginTraining(widget, options, wiring, model, exported),
      );
    wireButtons(
      buttons,
      () => shown.run,
      train,
      (run) => kit.trainingRun.handRun(widget, options, run),
    );
    return widget;
  }

  kit.add("training", trainingWidget);
  // what the RL widget (nanobook_training_rl.js) and the run's view (nanobook_training_run.js)
  // share with this one
  kit.trainingParts = {
    controlField,
    pressTrain,
    buttonSetter,
    wireButtons,
    receivers,
    runButtons,
    trainOnEnter,
    startsAsBook,
    retracesBook,
    evaluationNews,
    NEWS_GAP,
  };
})();
