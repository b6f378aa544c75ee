/* The live-tools widget and the engine it runs: model_src/engine.py in the browser.

     nanobook.tools.calculate("123+045", calculator.tool) -> {result: "168", error: null}
     nanobook.tools.session(calculator, "123+045=", {tool: true}).step()
                                 -> {token, forced, call} one token at a time, or null
     nanobook.tools.complete(calculator, "123+045=", {tool: true})
                                 -> {ids, forced, calls}, as engine.complete (greedy)

   The call syntax and the calculator's rules are the model's `tool` record, exported by
   the build from engine.py; nothing here executes what the model writes. The widget:
   the reader's sum, a switch for the calculator, and the completion token by token, the
   call and the forced answer marked. Built on the helpers of nanobook_widgets.js.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, argmax } = kit;

  /** engine.calculate: whole numbers joined by the rules' signs, parsed here, never run. */
  function calculate(expression, rules) {
    if (!expression.length) return { result: rules.error, error: "empty call" };
    const isSign = (ch) => Object.hasOwn(rules.signs, ch); // not the prototype's names
    const unsigned = !isSign(expression[0]); // the first number then counts as added
    const text = unsigned ? `+${expression}` : expression;
    let total = 0;
    let end = 0;
    while (end < text.length && isSign(text[end])) {
      let digits = end + 1;
      while (
        digits < text.length &&
        digits - end - 1 < rules.maxDigits &&
        text[digits] >= "0" &&
        text[digits] <= "9"
      )
        digits++;
      if (digits === end + 1) break; // a sign without a number
      total += rules.signs[text[end]] * Number(text.slice(end + 1, digits));
      end = digits;
    }
    if (end !== text.length) {
      return {
        result: rules.error,
        error: `cannot read the call from character ${Math.max(end - unsigned, 0)} on`,
      };
    }
    if (Math.abs(total) > rules.maxResult)
      return { result: rules.error, error: `overflow: |${total}| > ${rules.maxResult}` };
    return { result: String(total), error: null };
  }

  /** engine.advance, step by step, greedy: a queued answer's token is forced, else the
      model's likeliest; a written close of an open call runs the calculator. */
  function session(model, prompt, { tool = true } = {}) {
    const rules = model.tool;
    const id = (ch) => model.stoi.get(ch);
    const ids = model.encode(prompt);
    const forced = ids.map(() => false);
    const calls = [];
    let opened = null;
    let queue = [];
    let finished = false;
    function step() {
      if (finished || ids.length >= model.config.block_size) return null;
      const isForced = queue.length > 0;
      let token;
      if (isForced) token = queue.shift();
      else {
        const { logits } = model.forward(ids);
        token = argmax(logits[logits.length - 1]);
      }
      ids.push(token);
      forced.push(isForced);
      let call = null;
      if (!isForced && token === id(rules.stop)) finished = true;
      else if (isForced || !tool)
        call = null; // a forced token is never a call; tool off: calls are text
      else if (token === id(rules.open) && opened === null) opened = ids.length;
      else if (token === id(rules.close) && opened !== null) {
        const expression = model.decode(ids.slice(opened, -1));
        call = { expression, ...calculate(expression, rules) };
        calls.push(call);
        queue = model.encode(call.result);
        opened = null;
      }
      return { token, forced: isForced, call };
    }
    return { ids, forced, calls, step };
  }

  function complete(model, prompt, options) {
    const run = session(model, prompt, options);
    while (run.step());
    return { ids: run.ids, forced: run.forced, calls: run.calls };
  }

  nanobook.tools = { calculate, session, complete };

  // --- the widget -------------------------------------------------------------------------

  /** The controls (the sum, the calculator switch, Run) and the completion with its
      caption and legend. */
  function toolsView(widget, options) {
    const id = widget.id;
    const prompt = kit.textInput(`${id}-prompt`, options.prompt, {
      inputmode: "numeric",
      "aria-describedby": `${id}-hint`,
    });
    const hint = kit.hint(`${id}-hint`, kit.trainedOn(options.trained));
    const toolOn = element("input", { type: "checkbox", id: `${id}-tool`, checked: "" });
    const runButton = kit.button("Run");
    widget.controls.append(
      kit.field(`Sum for the ${widget.root.dataset.nanobookModel} model`, prompt, hint),
      element(
        "div",
        { className: "nb-live-field nb-tool-switch" },
        toolOn,
        element("label", { for: toolOn.id, text: "Calculator on" }),
      ),
      element("div", { className: "nb-live-buttons" }, runButton),
    );
    // a group, for a name a screen reader says (a paragraph's aria-label is not read)
    const text = element("p", {
      className: "nb-live-text nb-tool-text",
      role: "group",
      "aria-label": "The completion",
    });
    const caption = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const legend = element(
      "p",
      { className: "nb-tool-legend" },
      element("span", { className: "nb-tool-token nb-tool-written", text: "written by the model" }),
      " ",
      element("span", { className: "nb-tool-token nb-tool-call", text: "its call" }),
      " ",
      element("span", { className: "nb-tool-token nb-tool-forced", text: "forced by the engine" }),
    );
    widget.live.append(text, caption, legend);
    const note = kit.trainingNote(widget, prompt, caption);
    return { prompt, toolOn, runButton, text, caption, note };
  }

  function token(model, i, run, inCall) {
    const kind =
      i < run.promptLength
        ? "nb-live-prompt"
        : run.forced[i]
          ? "nb-tool-forced"
          : inCall
            ? "nb-tool-call"
            : "nb-tool-written";
    const span = element("span", {
      className: `nb-tool-token ${kind}`,
      text: model.vocab[run.ids[i]],
    });
    if (run.forced[i]) span.setAttribute("title", "forced: the calculator's answer, not sampled");
    return span;
  }

  /** After a run of forced tokens, the words a screen reader hears for their colour. */
  const forcedSaid = () =>
    element("span", { className: "nb-live-sr", text: " (forced by the engine)" });

  function describe(model, run, toolOn) {
    const said = run.calls.map(
      (c, i) =>
        `${i ? "then" : "The model"} called the calculator with “${c.expression}”, which answered ${c.result}${c.error ? ` (${c.error})` : ""}, forced into the context`,
    );
    const answer = model.decode(run.ids.slice(run.promptLength));
    if (!toolOn) return `Calculator off: the model wrote “${answer}” on its own.`;
    if (!said.length) return `The model wrote “${answer}” and made no call.`;
    // a completion that ends a sentence itself ("…180.") is not given a second full stop
    const end = /[.!?]$/.test(answer) ? "" : ".";
    return `${said.join("; ")}. Completion: “${answer}”${end}`;
  }

  /** Write the completion token by token (at once with reduced motion), then describe it. */
  function writeCompletion(w, model, run) {
    const { widget, view, timer } = w;
    const { text, caption, toolOn } = view;
    let opened = false;
    const started = performance.now();
    const advance = () => {
      const step = run.step();
      if (step) {
        const written = !step.forced && toolOn.checked;
        if (written && step.token === model.stoi.get(model.tool.open)) opened = true;
        const i = run.ids.length - 1;
        if (run.forced[i - 1] && !step.forced) text.append(forcedSaid());
        text.append(token(model, i, run, opened));
        if (written && step.token === model.stoi.get(model.tool.close)) opened = false;
        if (!kit.reducedMotion.matches) {
          timer.id = setTimeout(advance, step.forced ? 260 : 140);
          return;
        }
        return advance(); // no animation: the whole completion at once
      }
      if (run.forced.at(-1)) text.append(forcedSaid());
      caption.textContent = describe(model, run, toolOn.checked);
      widget.announce({
        ms: performance.now() - started,
        text: model.decode(run.ids),
        calls: run.calls,
      });
    };
    advance();
  }

  function toolsWidget(root, options) {
    const widget = kit.setUp(root, options);
    const view = toolsView(widget, options);
    const { prompt, toolOn } = view;
    const timer = { id: 0 };

    function start(model) {
      clearTimeout(timer.id);
      const problem = kit.problemWith(options.promptRule, model.name, prompt.value);
      kit.markInvalid(widget, prompt, Boolean(problem));
      view.note(problem ? null : options.trained, prompt.value);
      if (problem) {
        // said at each Run, as a result is; the last sum's completion is not this one's
        widget.status.textContent = problem;
        kit.hideStale(widget, true);
        return;
      }
      widget.status.textContent = "";
      kit.hideStale(widget, false);
      const run = session(model, prompt.value, { tool: toolOn.checked });
      run.promptLength = run.ids.length;
      view.text.replaceChildren(...run.ids.map((_, i) => token(model, i, run, false)));
      view.caption.textContent = "Running…";
      writeCompletion({ widget, view, timer }, model, run);
    }

    widget.runWhenAsked(start, { click: [view.runButton], change: [toolOn], enter: [prompt] });
    return widget;
  }

  kit.add("tools", toolsWidget);
})();
