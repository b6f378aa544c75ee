/* memory-calculator (ext/live_models/memory_widget.py): what a GPT of the reader's shape
   holds in memory and costs to train. Every figure is a formula of model_src/footprint.py
   that the build traced into a tree (formulas.py) and checked against real tensors; this
   script only evaluates the trees, for the reader's inputs, within the build's bounds. */
(() => {
  "use strict";
  const { element, field, say } = nanobook.widgets;
  const OPERATIONS = new Map([
    ["+", (x, y) => x + y],
    ["-", (x, y) => x - y],
    ["*", (x, y) => x * y],
    ["//", (x, y) => Math.floor(x / y)],
    ["/", (x, y) => x / y],
  ]);

  /** A formula's value (formulas.evaluate): a number, an input's name or [op, left, right]. */
  function evaluate(tree, values) {
    if (typeof tree === "number") return tree;
    if (typeof tree === "string") {
      if (!values.has(tree)) throw new TypeError(`no input named ${tree}`);
      return values.get(tree);
    }
    const [op, left, right] = tree;
    if (!OPERATIONS.has(op)) throw new TypeError(`unknown operation ${op}`);
    return OPERATIONS.get(op)(evaluate(left, values), evaluate(right, values));
  }

  /** A figure in the units and to the significant digits the build chose
      (memory_widget.shown writes the static table). */
  function shown(value, unit, { units, significant }) {
    const steps = units[unit];
    let i = 0;
    while (i + 1 < steps.length && value >= steps[i + 1][1]) i++;
    const [name, size] = steps[i];
    const scaled = value / size;
    const text =
      size === 1 && Number.isInteger(scaled)
        ? scaled.toLocaleString("en")
        : scaled.toLocaleString("en", { maximumSignificantDigits: significant });
    return name ? `${text} ${name}` : text;
  }

  function numberInput(widget, input) {
    const control = element("input", {
      type: "number",
      id: `${widget.id}-${input.name}`,
      min: String(input.min),
      max: String(input.max),
      step: input.whole ? "1" : "any",
      inputmode: input.whole ? "numeric" : "decimal",
    });
    control.addEventListener("input", () => update(widget, { typing: true }));
    widget.controls.set(input.name, control);
    return field(input.label, control);
  }

  function choice(widget, name, label, options) {
    const control = element("select", { id: `${widget.id}-${name}` });
    for (const [value, text] of options) control.append(element("option", { value, text }));
    control.addEventListener("change", () => update(widget));
    widget.controls.set(name, control);
    return field(label, control);
  }

  /** Put a starting shape's values into the controls. */
  function startFrom(widget, name) {
    const shape = widget.options.shapes[name];
    for (const [input, control] of widget.controls) {
      if (control.type === "checkbox") control.checked = shape[input] === 1;
      else if (input === "precision") control.value = widget.precisionName(shape.precision);
      else if (Object.hasOwn(shape, input)) control.value = String(shape[input]);
    }
    update(widget);
  }

  /** The reader's inputs, or the first thing wrong with them (a sentence). */
  function read(widget) {
    const { options } = widget;
    const values = new Map();
    for (const input of options.inputs) {
      const control = widget.controls.get(input.name);
      const value = Number(control.value);
      const bad =
        control.value === "" ||
        !Number.isFinite(value) ||
        (input.whole && !Number.isInteger(value)) ||
        value < input.min ||
        value > input.max;
      control.setAttribute("aria-invalid", String(bad));
      if (bad) {
        const kind = input.whole ? "a whole number" : "a number";
        return { problem: `${input.label}: ${kind} from ${input.min} to ${input.max}.` };
      }
      values.set(input.name, value);
    }
    for (const [part, whole] of options.divides) {
      if (values.get(whole) % values.get(part) !== 0) {
        const [p, w] = [part, whole].map((n) => options.inputs.find((i) => i.name === n).label);
        return { problem: `The ${p} must divide the ${w} evenly.` };
      }
    }
    values.set("bias", widget.controls.get("bias").checked ? 1 : 0);
    values.set("precision", options.precisions[widget.controls.get("precision").value]);
    return { values, optimizer: widget.controls.get("optimizer").value };
  }

  function update(widget, { typing = false } = {}) {
    const { values, optimizer, problem } = read(widget);
    for (const output of widget.options.outputs) {
      const cell = widget.cells.get(output.name);
      if (problem) {
        cell.textContent = "—";
        continue;
      }
      const key = output.perOptimizer ? `${output.name}:${optimizer}` : output.name;
      const tree = widget.options.formulas[key];
      cell.textContent = shown(evaluate(tree, values), output.unit, widget.options);
    }
    // the status line shows the result at once; while the reader types a number, it is said
    // once they pause
    say(widget.status, problem ?? widget.summary(), { typing });
    widget.root.dispatchEvent(new CustomEvent("nanobook:result"));
  }

  function outputTable(widget) {
    const body = element("tbody");
    for (const output of widget.options.outputs) {
      const cell = element("td", { "data-output": output.name });
      widget.cells.set(output.name, cell);
      body.append(element("tr", {}, element("th", { scope: "row", text: output.label }), cell));
    }
    const caption = element("caption", { text: widget.options.caption });
    return element("table", { className: "nb-memory-table" }, caption, body);
  }

  function make(root, options) {
    const widget = {
      id: root.id || "nb-memory",
      root,
      options,
      controls: new Map(),
      cells: new Map(),
    };
    widget.precisionName = (bytes) =>
      Object.keys(options.precisions).find((name) => options.precisions[name] === bytes);
    const shapes = Object.entries(options.shapeLabels);
    const start = choice(widget, "start", "start from", shapes);
    widget.controls.delete("start"); // a shortcut, not an input of the formulas
    const startControl = start.querySelector("select");
    startControl.addEventListener("change", () => startFrom(widget, startControl.value));
    const bias = element("input", { type: "checkbox", id: `${widget.id}-bias` });
    bias.addEventListener("change", () => update(widget));
    widget.controls.set("bias", bias);
    const controls = element(
      "div",
      { className: "nb-live-controls", role: "group", "aria-label": "the model and its run" },
      start,
      ...options.inputs.map((input) => numberInput(widget, input)),
      field("biases", bias),
      choice(
        widget,
        "precision",
        "precision",
        Object.keys(options.precisions).map((n) => [n, n]),
      ),
      choice(widget, "optimizer", "optimizer", Object.entries(options.optimizers)),
    );
    widget.status = element("p", {
      className: "nb-live-status",
      role: "status",
      "aria-live": "polite",
    });
    widget.summary = () => {
      const [training, cache] = ["training", "kv_cache"].map(
        (n) => widget.cells.get(n).textContent,
      );
      return `Training step: ${training}. KV cache: ${cache}.`;
    };
    root.querySelector(".nb-live-static").hidden = true;
    root.append(controls, outputTable(widget), widget.status);
    startControl.value = options.start;
    startFrom(widget, options.start);
    return widget;
  }

  nanobook.widgets.add("memory", make);
  // tests/test_memory_calculator.py checks that it writes a figure as memory_widget.py does
  nanobook.memory = { shown };
})();
