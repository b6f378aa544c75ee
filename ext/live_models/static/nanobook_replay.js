/* The training-replay widget: the sort model while it learned (the loss, held-out
   accuracy, a probe's predictions and every head's attention at each recorded step), or
   its RL run (pass@1 and pass@k, and each step's sampled group with rewards and
   advantages). Built on the helpers of nanobook_widgets.js.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, argmax, percent, percentOneDecimal, reducedMotion, svg, svgText } = kit;
  // the band above the learning chart's plot that holds the step's label (px)
  const LABEL_BAND = 16;

  /** The curves over the step axis, and over them the line at the step shown. */
  function drawCurves(chart, frame, curves, step) {
    const { top, bottom, x } = frame;
    chart.replaceChildren(
      kit.chartAxis(frame),
      ...curves,
      svg("line", { x1: x(step), y1: top, x2: x(step), y2: bottom, class: "nb-replay-now" }),
    );
  }

  /** The stepper's slider, step readout and Play button (Next step with reduced motion). */
  function stepperControls(widget, sliderLabel) {
    const slider = element("input", {
      type: "range",
      id: `${widget.id}-step`,
      min: "0",
      max: "0",
      step: "1",
      value: "0",
    });
    const stepShown = element("output", { for: slider.id });
    // its words say what a press does (Play, Pause): no pressed state besides them
    const playButton = kit.button(reducedMotion.matches ? "Next step" : "Play");
    const sliderField = kit.field(sliderLabel, slider, stepShown);
    sliderField.classList.add("nb-replay-slider");
    widget.controls.append(
      sliderField,
      element("div", { className: "nb-live-buttons nb-live-beside" }, playButton),
    );
    return { slider, stepShown, playButton };
  }

  /** What both replays share: a step slider and a Play button (Next step with reduced
      motion) over the recorded snapshots. start(count, draw) once the record is in;
      draw(at) shows snapshot `at`. */
  function stepper(widget, sliderLabel) {
    const { slider, stepShown, playButton } = stepperControls(widget, sliderLabel);
    let at = 0;
    let count = 0;
    let draw = () => {};
    const spoken = () => [stepShown, ...widget.live.querySelectorAll(".nb-live-readout")];
    const player = kit.player(playButton, spoken, 600);

    function show(index) {
      at = index;
      slider.value = String(at);
      draw(at);
    }

    function play() {
      if (player.playing) return player.stop();
      if (reducedMotion.matches) {
        // no running animation: each press shows the next recorded step, from the end the first
        show(at >= count - 1 ? 0 : at + 1);
        return;
      }
      if (at >= count - 1) at = 0;
      player.start(() => {
        show(at);
        if (at >= count - 1) return false;
        at += 1;
        return true;
      });
    }

    slider.addEventListener("input", () =>
      widget.ready(() => {
        player.stop();
        show(Number(slider.value));
      }),
    );
    playButton.addEventListener("click", () => widget.ready(play));
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

  /** Loss (left axis, log scale) over every logged step; accuracy (right axis) at the
      snapshots; the step shown marked. */
  function drawLearningChart(chart, replay, at) {
    const { curve, snapshots, max_iters: last } = replay;
    // the plot starts lower than the kit's frame: the step's label sits above it, clear of
    // the curves
    const drawn = kit.chartFrame(chart, { leftMargin: 52, rightMargin: 44, lastStep: last });
    const frame = { ...drawn, top: drawn.top + LABEL_BAND };
    const { left, right, top, bottom, x } = frame;
    const losses = curve.map(([, loss]) => loss);
    const [low, high] = [Math.log(Math.min(...losses)), Math.log(Math.max(...losses))];
    const y = (loss) => bottom - ((bottom - top) * (Math.log(loss) - low)) / (high - low || 1);
    const yAccuracy = (a) => bottom - (bottom - top) * a;
    const snapshot = snapshots[at];
    const curves = [
      svg("polyline", {
        points: curve.map(([s, loss]) => `${x(s)},${y(loss)}`).join(" "),
        class: "nb-replay-loss",
      }),
      svg("polyline", {
        points: snapshots.map((s) => `${x(s.step)},${yAccuracy(s.accuracy)}`).join(" "),
        class: "nb-replay-accuracy",
      }),
    ];
    drawCurves(chart, frame, curves, snapshot.step);
    const label = (text, attributes) => chart.append(svgText(text, attributes));
    const near = x(snapshot.step) > (left + right) / 2;
    label(`step ${snapshot.step}`, {
      x: x(snapshot.step) + (near ? 4 : -4),
      y: top - 6,
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

  /** Probe p at a snapshot: each position's letter, and below the answer positions what
      the model predicts. */
  function probeCells(replay, snapshot, p) {
    const vocab = replay.vocab;
    return replay.probes[p].map((id, t) => {
      const predicted = snapshot.prediction[p][t];
      const answer = t >= replay.prompt_len - 1;
      const right = predicted === replay.targets[p][t];
      return element(
        "div",
        {
          className: `nb-live-token${answer ? (right ? " nb-replay-right" : " nb-replay-wrong") : ""}`,
          role: "listitem",
          "aria-label":
            `position ${t}, ${vocab[id]}` +
            (answer
              ? `; predicts ${vocab[predicted]} at ${percent(snapshot.probability[p][t])}, ${right ? "right" : "wrong"}`
              : ""),
        },
        element("span", { className: "nb-live-tok", text: vocab[id] }),
        element("span", {
          className: "nb-live-pred",
          text: answer ? `→${vocab[predicted]}` : "",
        }),
        element("span", {
          className: "nb-live-prob",
          text: answer ? percent(snapshot.probability[p][t]) : "",
        }),
      );
    });
  }

  /** Every head's attention on probe p at a snapshot, each map labelled with its
      strongest keys. */
  function drawHeads(root, layers, snapshot, p) {
    const colours = kit.mapColours(root);
    layers.querySelectorAll("canvas").forEach((canvas) => {
      const rows = snapshot.attention[p][canvas.dataset.layer][canvas.dataset.head];
      kit.headMap(canvas, rows, colours, 100);
      const strongest = rows.map(argmax);
      canvas.setAttribute(
        "aria-label",
        `Layer ${canvas.dataset.layer}, head ${canvas.dataset.head} at step ${snapshot.step}: the key each position attends to most, in order: ${strongest.join(", ")}`,
      );
    });
  }

  /** The replay's parts: the probe menu, the summary, the chart, the probe's sequence and
      every head's map. */
  function replayView(widget) {
    const probe = element("select", { id: `${widget.id}-probe` });
    widget.controls.lastChild.before(kit.field("Held-out prompt", probe));
    const summary = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const chart = svg("svg", { class: "nb-replay-chart", role: "img" });
    const sequence = element("div", {
      className: "nb-live-tokens",
      role: "list",
      "aria-label": "The prompt and the model's prediction at each answer position",
    });
    const layers = element("div", { className: "nb-live-layers" });
    widget.live.append(summary, chart, sequence, layers);
    return { probe, summary, chart, sequence, layers };
  }

  /** The probe menu and the maps (pictures here, not buttons), once the replay is in. */
  function fillReplayView(view, replay) {
    for (const [p, row] of replay.probes.entries()) {
      const text = row
        .slice(0, replay.prompt_len)
        .map((i) => replay.vocab[i])
        .join("");
      view.probe.append(element("option", { value: String(p), text }));
    }
    kit.headGrid(view.layers, replay.snapshots[0].attention[0], (l, h) =>
      element("canvas", {
        className: "nb-live-map",
        role: "img",
        "data-layer": String(l),
        "data-head": String(h),
      }),
    );
  }

  /** The sort model while it learned: a step slider (and play) over the build's snapshots. */
  function replayWidget(root, options) {
    if (options.run === "rl") return rlReplayWidget(root, options);
    const widget = kit.setUp(root, options);
    const steps = stepper(widget, "Training step");
    const view = replayView(widget);
    let replay = null;
    let at = 0;

    function drawStep() {
      const snapshot = replay.snapshots[at];
      steps.say(snapshot.step, replay.max_iters);
      const p = Number(view.probe.value);
      const loss =
        snapshot.loss === null
          ? "before the first update"
          : `training loss ${snapshot.loss.toFixed(3)}`;
      view.summary.textContent = `Step ${snapshot.step}: ${loss}, held-out accuracy ${percentOneDecimal(snapshot.accuracy)}.`;
      drawLearningChart(view.chart, replay, at);
      view.sequence.replaceChildren(...probeCells(replay, snapshot, p));
      drawHeads(root, view.layers, snapshot, p);
      widget.announce({ step: snapshot.step });
    }

    widget.onLoad((loaded) => {
      replay = loaded;
      fillReplayView(view, replay);
      steps.start(replay.snapshots.length, (index) => {
        at = index;
        drawStep();
      });
    });
    view.probe.addEventListener("change", () => widget.ready(drawStep));
    widget.redraw = () => replay && drawStep();
    return widget;
  }

  /** pass@1 and pass@k over the RL steps, the step shown marked. */
  function drawPassChart(chart, replay, at) {
    const { snapshots, max_iters: last, k } = replay;
    const frame = kit.chartFrame(chart, { leftMargin: 40, rightMargin: 64, lastStep: last });
    const { left, right, top, bottom, x } = frame;
    const y = (p) => bottom - (bottom - top) * p;
    const line = (key, cls) =>
      svg("polyline", {
        points: snapshots.map((s) => `${x(s.step)},${y(s[key])}`).join(" "),
        class: cls,
      });
    const now = snapshots[at];
    const curves = [line(`pass@${k}`, "nb-rl-passk"), line("pass@1", "nb-replay-accuracy")];
    drawCurves(chart, frame, curves, now.step);
    const end = snapshots[snapshots.length - 1];
    chart.append(
      svgText(`pass@${k}`, { x: right + 6, y: y(end[`pass@${k}`]) - 4 }),
      svgText("pass@1", {
        x: right + 6,
        y: y(end["pass@1"]) + 14,
        class: "nb-replay-accuracy-label",
      }),
      svgText("100%", { x: left - 4, y: top + 4, "text-anchor": "end" }),
      svgText("0%", { x: left - 4, y: bottom + 4, "text-anchor": "end" }),
      svgText(`RL step (${last} in all)`, { x: left, y: bottom + 20 }),
    );
    const first = snapshots[0];
    chart.setAttribute(
      "aria-label",
      `Held-out exact pass@1 going from ${percentOneDecimal(first["pass@1"])} to ${percentOneDecimal(end["pass@1"])} over ${last} RL steps, and exact pass@${k} from ${percentOneDecimal(first[`pass@${k}`])} to ${percentOneDecimal(end[`pass@${k}`])}; step ${now.step} is marked.`,
    );
  }

  /** One sampled answer: its word, reward, and advantage as a bar either side of 0. */
  function answerItem(snapshot, i, word, largest) {
    const answer = snapshot.answers[i];
    const reward = snapshot.rewards[i];
    const advantage = snapshot.advantages[i];
    const push =
      advantage > 0 ? "made likelier" : advantage < 0 ? "made less likely" : "left alone";
    const side = (sign) =>
      element("span", {
        className: `nb-rl-${sign > 0 ? "pos" : "neg"}`,
        style: `--nb-rl-w: ${(sign * advantage > 0 ? Math.abs(advantage) / largest : 0).toFixed(3)}`,
      });
    return element(
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
    );
  }

  /** The step's first group: the answers sampled for one prompt, with rewards and
      advantages (none at step 0). */
  function drawGroup(group, replay, snapshot) {
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
    list.append(...snapshot.answers.map((_, i) => answerItem(snapshot, i, word, largest)));
    group.replaceChildren(
      element("p", {
        className: "nb-live-caption",
        text: `The first group of step ${snapshot.step}: prompt ${word(snapshot.prompt)}, the ${snapshot.answers.length} answers the model sampled, the checker's reward and each answer's advantage (reward minus the group's mean).`,
      }),
      list,
    );
  }

  /** The sort model's RL run: held-out pass@1 and pass@k over the steps, and the group of
      answers the model sampled for one prompt at each recorded step, with rewards and
      advantages (experiments/rl_runs.py records it). */
  function rlReplayWidget(root, options) {
    const widget = kit.setUp(root, options);
    const steps = stepper(widget, "RL step");
    const summary = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const chart = svg("svg", { class: "nb-replay-chart", role: "img" });
    const group = element("div", { className: "nb-rl-group" });
    widget.live.append(summary, chart, group);
    let replay = null;

    function draw(at) {
      const snapshot = replay.snapshots[at];
      const k = replay.k;
      steps.say(snapshot.step, replay.max_iters);
      const reward =
        snapshot.mean_reward === undefined
          ? "before the first update"
          : `mean reward over the step's ${replay.prompts} groups ${percentOneDecimal(snapshot.mean_reward)}`;
      summary.textContent = `Step ${snapshot.step}: held-out exact pass@1 ${percentOneDecimal(snapshot["pass@1"])}, exact pass@${k} ${percentOneDecimal(snapshot[`pass@${k}`])}; ${reward}.`;
      drawPassChart(chart, replay, at);
      drawGroup(group, replay, snapshot);
      widget.announce({ step: snapshot.step });
    }

    widget.onLoad((loaded) => {
      replay = loaded;
      steps.start(replay.snapshots.length, draw);
    });
    widget.redraw = steps.redraw;
    return widget;
  }

  kit.add("replay", replayWidget);
})();
