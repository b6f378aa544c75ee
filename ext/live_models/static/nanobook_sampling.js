/* The live-sampling widget: the model continues the reader's prompt one drawn token at a
   time, with temperature, top-k, top-p and the seed, and shows each step's distribution
   with what top-k and top-p cut. Built on the helpers of nanobook_widgets.js.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, field, percentOneDecimal, sharePercent } = kit;

  const TOP_K_CHOICES = [1, 2, 3, 5, 10, 20, 40];
  const BARS = 10;

  /** The controls (prompt, temperature, top-k, top-p, seed, the buttons) and the text,
      the step's caption and its bars. */
  function samplingView(widget, options) {
    const id = widget.id;
    const prompt = kit.textInput(`${id}-prompt`, options.prompt, {
      "aria-describedby": `${id}-hint`,
    });
    const hint = kit.hint(`${id}-hint`, kit.trainedOn(options.trained));
    // a slider in steps of 0.05 over the directive's bounds
    const slider = (suffix, [low, high], value) =>
      element("input", {
        type: "range",
        id: `${id}-${suffix}`,
        min: String(low),
        max: String(high),
        step: "0.05",
        value: String(value),
      });
    const temperature = slider("temperature", options.ranges.temperature, options.temperature);
    const temperatureShown = element("output", {
      for: temperature.id,
      text: Number(options.temperature).toFixed(2),
    });
    const mostP = options.ranges.topP[1]; // keeps every token: top-p off
    const topP = slider("topp", options.ranges.topP, options.topP ?? mostP);
    const topPShown = element("output", { for: topP.id });
    const topK = element("select", { id: `${id}-topk` });
    topK.append(element("option", { value: "", text: "off (all tokens)" }));
    const seed = element("input", {
      type: "number",
      id: `${id}-seed`,
      min: String(options.ranges.seed[0]),
      step: "1",
      value: String(options.seed),
      inputmode: "numeric",
    });
    const buttons = {
      step: kit.button("Step"),
      play: kit.button("Play"), // its words say what a press does: no pressed state
      reset: kit.button("Reset"),
    };
    widget.controls.append(
      field(`Prompt for the ${widget.root.dataset.nanobookModel} model`, prompt, hint),
      field("Temperature", temperature, temperatureShown),
      field("Top-k", topK),
      field("Top-p", topP, topPShown),
      field("Seed", seed),
      element(
        "div",
        { className: "nb-live-buttons nb-live-row" },
        buttons.step,
        buttons.play,
        buttons.reset,
      ),
    );
    // a group, for a name a screen reader says (a paragraph's aria-label is not read)
    const text = element("p", {
      className: "nb-live-text",
      role: "group",
      "aria-label": "Text so far",
    });
    const caption = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const bars = element("ol", {
      className: "nb-live-bars",
      "aria-label": "Next-token distribution at this step",
    });
    widget.live.append(text, caption, bars);
    const note = kit.trainingNote(widget, prompt, caption);
    return {
      ...{ prompt, temperature, temperatureShown, mostP, topP, topPShown, topK, seed },
      ...{ buttons, text, caption, bars, note },
    };
  }

  function settings(view) {
    const { temperature, topK, topP, seed, mostP } = view;
    const k = topK.value === "" ? null : Number(topK.value);
    const p = Number(topP.value) >= mostP ? null : Number(topP.value);
    return { temperature: Number(temperature.value), topK: k, topP: p, seed: Number(seed.value) };
  }

  function showTopP(view) {
    const { topP, topPShown, mostP } = view;
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
  function topPSummary(filters, probs, afterTopK) {
    if (filters.topP === null) return "";
    const kept = [...probs.keys()].filter((i) => probs[i] > 0);
    const offered = afterTopK.filter((p) => p > 0).length;
    const held = kept.reduce((sum, i) => sum + afterTopK[i], 0);
    return ` Top-p ${filters.topP.toFixed(2)} kept ${kept.length} of ${offered} tokens (${percentOneDecimal(held)} of the probability) and cut ${offered - kept.length}.`;
  }

  /** Why the seed cannot be used, or "" (the build's range). */
  function seedProblem(seed, [lowest, highest]) {
    const value = Number(seed.value);
    const fine = seed.value !== "" && Number.isInteger(value) && value >= lowest;
    return fine && value <= highest
      ? ""
      : `The seed is a whole number from ${lowest} to ${highest}.`;
  }

  /** The step's bars: the likeliest tokens as temperature alone ranks them (so that the
      tokens top-k and top-p cut show), the drawn one among them. */
  function stepBars(model, filters, drawn) {
    const { probs, token, logits } = drawn;
    const { temperature: t, topK: k } = filters;
    const before = model.probabilities(logits, { temperature: t });
    const afterTopK = model.probabilities(logits, { temperature: t, topK: k });
    const ranked = kit.ranked(before, BARS);
    if (!ranked.includes(token)) ranked[ranked.length - 1] = token;
    const bars = ranked.map((i) => {
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
          text: sharePercent(probs[i]) + (i === token ? " drawn" : ""),
        }),
        element("span", { className: "nb-live-bar-why", text: cut && `${cut} cut` }),
      );
    });
    return { bars, summary: topPSummary(filters, probs, afterTopK) };
  }

  /** Start again from the prompt with the controls' settings (or say what is wrong). */
  function reset(w, model) {
    const { widget, options, view, run } = w;
    w.player.stop();
    const problem = kit.problemWith(
      options.promptRule,
      model.name,
      kit.normalised(model, view.prompt),
    );
    kit.markInvalid(widget, view.prompt, Boolean(problem));
    view.note(problem ? null : options.trained, view.prompt.value);
    const badSeed = seedProblem(view.seed, options.ranges.seed);
    // the status line says the prompt's problem first
    kit.markInvalid(widget, view.seed, Boolean(badSeed), Boolean(badSeed) && !problem);
    run.sampler = null;
    if (problem || badSeed) {
      kit.write(widget.status, problem || badSeed); // once, not at each key
      kit.hideStale(widget, true); // it drew from another prompt
      return;
    }
    widget.status.textContent = "";
    kit.hideStale(widget, false);
    run.filters = settings(view);
    run.sampler = model.sampler(model.encode(view.prompt.value), run.filters);
    run.stepsDone = 0;
    view.text.replaceChildren(
      element("span", { className: "nb-live-prompt", text: view.prompt.value }),
    );
    view.bars.replaceChildren();
    // written only when it changes: each setting moved redraws, and was said again
    kit.write(view.caption, `Press Step to draw one token, or Play for ${options.steps}.`);
  }

  /** Draw one token; returns whether the run has steps left. */
  function step(w, model) {
    const { widget, options, view, run } = w;
    if (!run.sampler) return false;
    if (run.stepsDone >= options.steps) reset(w, model);
    const start = performance.now();
    const drawn = run.sampler.step();
    const { probs, token } = drawn;
    run.stepsDone++;
    // whitespace lays the text out; a token that prints nothing shows as the book prints it
    const shown = /^\s+$/.test(model.vocab[token]) ? model.vocab[token] : model.shown[token];
    view.text.append(element("span", { className: "nb-live-drawn", text: shown }));
    const { bars, summary } = stepBars(model, run.filters, drawn);
    view.bars.replaceChildren(...bars);
    view.caption.textContent =
      `Step ${run.stepsDone} of ${options.steps}: drew “${model.shown[token]}” (${sharePercent(probs[token])}).` +
      summary;
    widget.announce({ ms: performance.now() - start });
    return run.stepsDone < options.steps;
  }

  function play(w, model) {
    const { run, player } = w;
    if (player.playing) return player.stop();
    if (!run.sampler || run.stepsDone >= w.options.steps) reset(w, model);
    if (!run.sampler) return;
    if (kit.reducedMotion.matches) {
      while (step(w, model)); // no animation: the whole run at once
      return;
    }
    player.start(() => step(w, model));
  }

  /** The top-k menu: the choices below the model's vocabulary, and the page's own. */
  function topKChoices(view, options, model) {
    const { topK } = view;
    for (const k of TOP_K_CHOICES.filter((k) => k < model.config.vocab_size)) {
      topK.append(element("option", { value: String(k), text: String(k) }));
    }
    topK.value = options.topK === null ? "" : String(options.topK);
    if (topK.value === "" && options.topK !== null) {
      topK.append(element("option", { value: String(options.topK), text: String(options.topK) }));
      topK.value = String(options.topK);
    }
  }

  function samplingWidget(root, options) {
    const widget = kit.setUp(root, options);
    const view = samplingView(widget, options);
    // the sampler and the settings it draws with, the steps drawn
    const run = { sampler: null, filters: null, stepsDone: 0 };
    const player = kit.player(view.buttons.play, () => [view.caption], 120);
    const w = { widget, options, view, run, player };
    // the reader's own model, handed over by a training widget, may sample in the book's place
    const again = () => widget.ready((model) => reset(w, reading(model)));
    const reading = kit.readersModel(widget, root.dataset.nanobookModel, again);
    view.temperature.addEventListener("input", () => {
      view.temperatureShown.textContent = Number(view.temperature.value).toFixed(2);
      again();
    });
    view.topP.addEventListener("input", () => {
      showTopP(view);
      again();
    });
    showTopP(view);
    for (const control of [view.prompt, view.seed, view.topK]) {
      control.addEventListener("input", again);
    }
    view.buttons.step.addEventListener("click", () =>
      widget.ready((model) => step(w, reading(model))),
    );
    view.buttons.play.addEventListener("click", () =>
      widget.ready((model) => play(w, reading(model))),
    );
    view.buttons.reset.addEventListener("click", again);
    widget.onLoad((model) => {
      topKChoices(view, options, model);
      reset(w, model);
    });
    return widget;
  }

  kit.add("sampling", samplingWidget);
})();
