/* The live-training widget with :run: rl: the reader runs the RL chapter's REINFORCE or
   GRPO from the chapter's start model, with their own group size, learning rate, steps,
   seed and reward (the exact-sort check or the gameable one), and watches the held-out
   pass@1 and pass@k, the mean reward and the share of answers that really sort.

   Before the reader presses Train the page holds only this script, the training widget's
   (whose parts it uses: kit.trainingParts) and the controls, with the bounds and choices
   the build gives (ext/live_models/rl_training.py, in the widget's options). Train loads
   the trainer (nanobook_train.js, in a Web Worker where it can) and the run's export: the
   start model, the rules and prompts of rl_runs.py, and the book's recorded REINFORCE run.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, percentOneDecimal, svg } = kit;
  const parts = () => kit.trainingParts;

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
    return `Your RL run over ${last ? last.iter : 0} of ${run.rl.steps} steps${stepText}${heldText}. The book's REINFORCE run's held-out pass@1 is drawn dashed.`;
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
    return `Done: ${step} steps of ${method} with the reward “${reward}”; held-out pass@1 ${percentOneDecimal(held.pass1)}, pass@${about.k} ${percentOneDecimal(held.passk)} (at the start ${percentOneDecimal(run.records[0].pass1)}, ${percentOneDecimal(run.records[0].passk)}).`;
  }

  /** An evaluation in words, for the line screen readers hear: the held-out pass@1 and
      pass@k, and the step's mean reward where it has one (not the start's). */
  function evaluationText(record, run, about) {
    const when = record.iter ? `At step ${record.iter} of ${run.rl.steps}` : "At the start";
    const reward = "reward" in record ? `; mean reward ${percentOneDecimal(record.reward)}` : "";
    return `${when}: held-out exact pass@1 ${percentOneDecimal(record.pass1)}, pass@${about.k} ${percentOneDecimal(record.passk)}${reward}.`;
  }

  /** The progress line, the chart, its legend and the log; heard(run, record) adds one. */
  function runView(widget, about) {
    const say = parts().evaluationNews(widget);
    const progress = element("p", { className: "nb-live-readout nb-training-progress" });
    const chart = svg("svg", { class: "nb-replay-chart nb-training-chart", role: "img" });
    const log = parts().logTable(widget.id, logColumns(about), "nb-training-log nb-rl-log");
    let legend = parts().legend(legendEntries(about, null));
    widget.live.append(progress, chart, legend, log.box);
    let shown = null;
    const redraw = () => shown && drawChart(chart, shown, about);
    const redrawSoon = parts().oncePerFrame(redraw);
    return {
      redraw,
      start(run) {
        shown = run;
        log.clear(logCaption(about));
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
        const reward =
          "reward" in record
            ? ` · mean reward ${percentOneDecimal(record.reward)} · sorted ${percentOneDecimal(record.sorted)}`
            : "";
        const held = run.records.filter((r) => "pass1" in r).pop();
        progress.textContent = `Step ${record.iter} of ${run.rl.steps}${reward} · held-out pass@1 ${percentOneDecimal(held.pass1)} (step ${held.iter})`;
        redrawSoon();
      },
    };
  }

  /** The controls, a note on what one step does, and the buttons. */
  function rlControls(widget, options) {
    const fields = options.controls.map((control) => parts().controlField(widget.id, control));
    const settings = element(
      "div",
      { className: "nb-training-settings", role: "group", "aria-label": "RL settings" },
      ...fields.map((f) => f.field),
    );
    const { prompts, start_iters: startIters } = options.about;
    const note = element("p", {
      className: "nb-live-hint nb-training-start",
      text: `Each step draws ${prompts} training prompts, samples the group's answers to each from the model, scores them with the reward and takes rl.py's update. The run starts from the chapter's start model (the sort model stopped after ${startIters} steps of training).`,
    });
    const buttons = parts().runButtons(options.preset);
    widget.controls.append(
      settings,
      note,
      element("div", { className: "nb-live-buttons nb-live-row" }, ...Object.values(buttons)),
    );
    return { fields, buttons };
  }

  function rlWidget(root, options) {
    const widget = kit.setUp(root, options, { loadWhenSeen: false });
    widget.status.textContent = "Choose the settings, then press Train: RL runs in this page.";
    const { fields, buttons } = rlControls(widget, options);
    parts().trainOnEnter(fields, buttons.train);
    const setButtons = parts().buttonSetter(buttons);
    setButtons("idle");
    const view = runView(widget, options.about);
    widget.redraw = view.redraw;
    const shown = { run: null, hear }; // the run shown, and what hears its trainer

    function hear(run, message) {
      if (run !== shown.run) return; // an earlier run's last words
      if (message.type === "record") {
        run.records.push(message.record);
        view.heard(run, message.record);
        if (run.state === "paused")
          widget.status.textContent = stateText("paused", run, options.about, fields);
        widget.announce({ record: message.record });
      } else if (message.type === "state" && message.state !== "stopped") {
        run.state = message.state;
        setButtons(message.state);
        widget.status.textContent = stateText(message.state, run, options.about, fields);
      } else if (message.type === "error") {
        setButtons("done");
        widget.status.textContent = `RL stopped: ${message.message}.`;
      }
    }

    const loading = "Loading the trainer and the chapter's start model…";
    const pressed = { fields, setButtons, trainer: options.trainer, loading };
    const train = () =>
      parts().pressTrain(widget, shown, pressed, (model, payload) => {
        const { settings, rl } = chosenRun(fields, payload.rules);
        const { config, vocab, shown: letters, task } = model;
        const shape = { config, vocab, shown: letters, task };
        const run = { settings, rl, payload, shape, records: [], state: "starting" };
        view.start(run);
        const { data, rules } = payload;
        return [run, { config, weights: model.w, settings, rules, data, rl }];
      });
    const hand = (run) =>
      parts().handOver(widget, options.preset, run.handle, run.shape, "your RL model");
    parts().wireButtons(buttons, () => shown.run, train, hand);
    return widget;
  }

  kit.add("rl-training", rlWidget);
})();
