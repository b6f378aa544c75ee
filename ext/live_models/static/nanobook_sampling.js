/* The live-sampling widget: the model continues the reader's prompt one drawn token at a
   time, with temperature, top-k, top-p and the seed, and shows each step's distribution
   with what top-k and top-p cut. Built on the helpers of nanobook_widgets.js.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, field, percent } = kit;

  const TOP_K_CHOICES = [1, 2, 3, 5, 10, 20, 40];
  const BARS = 10;

  function samplingWidget(root, options) {
    const widget = kit.setUp(root, options);
    const name = root.dataset.nanobookModel;
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
      min: "0",
      step: "1",
      value: String(options.seed),
      inputmode: "numeric",
    });
    const stepButton = kit.button("Step");
    const playButton = kit.button("Play", { "aria-pressed": "false" });
    const resetButton = kit.button("Reset");
    widget.controls.append(
      field(`Prompt for the ${name} model`, prompt, hint),
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
    const note = kit.trainingNote(widget, prompt, caption);

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
      const problem = kit.problemWith(model, kit.normalised(model, prompt));
      prompt.setAttribute("aria-invalid", problem ? "true" : "false");
      note(problem ? null : options.trained, prompt.value);
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
      const ranked = kit.ranked(before, BARS);
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
      if (kit.reducedMotion.matches) {
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

  kit.add("sampling", samplingWidget);
})();
