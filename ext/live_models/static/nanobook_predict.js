/* The predict-check widget: the reader commits to an answer, then the model in the
   browser works the answer out and shows why (the build computed the same answer for
   the static rendering). Built on the helpers of nanobook_widgets.js.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, argmax, percentOneDecimal, sharePercent } = kit;

  /** e^x to three significant figures, trailing zeros kept, for any x: at a temperature
      of 0.01 a logit gap of 7.1 already makes odds beyond a double's range, so those are
      written from x's decimal logarithm (predict.exp_text alike, in Python's "#.3g",
      whose exponent has two digits at least: 1.23e+05, where toPrecision writes 1.23e+5). */
  function expText(x) {
    const value = Math.exp(x);
    if (Number.isFinite(value)) return value.toPrecision(3).replace(/e\+(\d)$/, "e+0$1");
    const decimals = x / Math.LN10;
    let exponent = Math.floor(decimals);
    let mantissa = (10 ** (decimals - exponent)).toPrecision(3);
    if (mantissa === "10.0") [mantissa, exponent] = ["1.00", exponent + 1]; // 9.996 rounds up
    return `${mantissa}e+${exponent}`;
  }

  /** The likeliest next token's share at the question's temperature: the choice nearest it. */
  function temperatureAnswer(model, question) {
    const ids = model.encode(question.input);
    const logits = [...model.forward(ids).logits[ids.length - 1]];
    const tau = question.temperature;
    const probs = model.probabilities(logits, { temperature: tau });
    const [best, runnerUp] = kit.ranked(logits, 2);
    const share = probs[best];
    const off = (value) => Math.abs(parseFloat(value) / 100 - share);
    const nearest = question.choices.reduce(
      (b, [value]) => (off(value) < off(b) ? value : b),
      question.choices[0][0],
    );
    const gap = logits[best] - logits[runnerUp];
    const why =
      `Dividing the logits by ${tau} multiplies every gap between them by ${Number((1 / tau).toPrecision(6))}: ` +
      `“${model.shown[best]}” leads the runner-up “${model.shown[runnerUp]}” by ${gap.toFixed(2)}, ` +
      `so its odds over it go from ${expText(gap)} to ${expText(gap / tau)}.`;
    return {
      answer: nearest,
      evidence: `The live model gives it ${percentOneDecimal(share)} at temperature ${tau}. ${why}`,
    };
  }

  /** The first step whose held-out accuracy reaches the threshold, from the replay. */
  function accuracyStepAnswer(replay, question) {
    const reached = replay.snapshots.find((s) => s.accuracy >= question.threshold);
    const evidence = replay.snapshots
      .filter((s) => s.step <= (reached ? reached.step : Infinity))
      .slice(-4)
      .map((s) => `step ${s.step}: ${percentOneDecimal(s.accuracy)}`)
      .join(", ");
    // the reason is the build's, from the same record (compute.accuracy_why)
    return {
      answer: reached ? reached.step : null,
      evidence: `Whole answers right in the replay: ${evidence}. ${question.why}`,
    };
  }

  /** What the tool model writes with its calculator off. */
  function toolOffAnswer(model, question) {
    // the engine of nanobook_tools.js, which the build adds to pages with a tool model
    const done = nanobook.tools.complete(model, question.input, { tool: false });
    const answer = model.decode(done.ids.slice(question.input.length));
    return {
      answer,
      evidence: `The live model, its calculator off, writes “${answer}”: it learned to write the call, and nothing about the sum, which its training never scored.`,
    };
  }

  /** Whether RL moved pass@k: as kinds/predict.py's rl_trend decides, from the RL run's first
      and last snapshots. */
  function rlPassKAnswer(replay, question) {
    const k = question.k;
    const [first, last] = [replay.snapshots[0], replay.snapshots[replay.snapshots.length - 1]];
    const [before, after] = [first[`pass@${k}`], last[`pass@${k}`]];
    const answer =
      Math.abs(after - before) < question.band ? "same" : after > before ? "higher" : "lower";
    // the moves of pass@k and pass@1 in the build's words, from the same record (rl_pass_k_question)
    return { answer, evidence: `In the RL run's record, ${question.why}` };
  }

  /** The key a head's query attends to most. */
  function strongestKeyAnswer(model, question) {
    const ids = model.encode(question.input);
    const row = model.forward(ids).attention[question.layer][question.head][question.query];
    const weights = [...row.slice(0, question.query + 1)].map(
      (w, j) => `${j} “${model.shown[ids[j]]}” ${sharePercent(w)}`,
    );
    return {
      answer: argmax(row),
      evidence: `The live model's weights for that query: ${weights.join(", ")}.`,
    };
  }

  /** The likeliest next token at the question's temperature. */
  function nextTokenAnswer(model, question) {
    const ids = model.encode(question.input);
    const probs = model.probabilities(model.forward(ids).logits[ids.length - 1], {
      temperature: question.temperature,
    });
    const listed = kit
      .ranked(probs, 4)
      .map((i) => `“${model.shown[i]}” ${sharePercent(probs[i])}`)
      .join(", ");
    return {
      answer: model.vocab[argmax(probs)],
      evidence: `At temperature ${question.temperature}, the live model's next-token probabilities: ${listed}.`,
    };
  }

  // The model's answer to each kind of question (what it loaded: a model or a record),
  // worked out in the browser, with what shows it.
  // A Map: a question kind named like an object's property ("constructor") is unknown.
  const ANSWERS = new Map([
    ["accuracy-step", accuracyStepAnswer],
    ["temperature-share", temperatureAnswer],
    ["tool-off", toolOffAnswer],
    ["rl-pass-k", rlPassKAnswer],
    ["strongest-key", strongestKeyAnswer],
    ["next-token", nextTokenAnswer],
  ]);

  function predictWidget(root, options) {
    const question = options.question;
    const answerOf = ANSWERS.get(question.ask); // before anything is built: else it stays static
    if (!answerOf) throw new TypeError(`no question of kind ${JSON.stringify(question.ask)}`);
    const widget = kit.setUp(root, options);
    const storageKey = `nanobook:predict:${location.pathname}#${root.id}`;
    const fieldset = element(
      "fieldset",
      { className: "nb-predict" },
      element("legend", { text: question.text }),
    );
    question.choices.forEach(([value, label], i) => {
      const radio = element("input", {
        type: "radio",
        name: `${widget.id}-choice`,
        id: `${widget.id}-c${i}`,
        value: String(value),
      });
      fieldset.append(
        element(
          "div",
          { className: "nb-predict-choice" },
          radio,
          element("label", { for: radio.id, text: label }),
        ),
      );
    });
    const check = kit.button(question.check); // the model, or a record of a run: the build says
    const verdict = element("p", {
      className: "nb-predict-verdict",
      role: "status",
      "aria-live": "polite",
    });
    widget.controls.append(
      fieldset,
      element("div", { className: "nb-live-buttons nb-live-row" }, check),
    );
    widget.live.append(verdict);
    // the question replaces the static rendering at once: that one shows the answer
    widget.live.hidden = false;
    root.querySelector(".nb-live-static").hidden = true;
    widget.status.textContent = "";
    try {
      const kept = localStorage.getItem(storageKey);
      const radio = kept && fieldset.querySelector(`input[value="${CSS.escape(kept)}"]`);
      if (radio) radio.checked = true;
    } catch (_error) {
      // storage may be off (private windows, file://): progress is simply not kept
    }
    check.addEventListener("click", () => {
      const picked = fieldset.querySelector("input:checked");
      if (!picked) {
        verdict.textContent = "Choose an answer first: commit to a prediction, then check it.";
        return;
      }
      try {
        localStorage.setItem(storageKey, picked.value);
      } catch (_error) {
        // as above
      }
      widget.ready((loaded) => {
        const { answer, evidence } = answerOf(loaded, question);
        const label = question.choices.find(([value]) => String(value) === String(answer));
        const right = String(answer) === picked.value;
        verdict.textContent = `${right ? "Right" : "Not this time"}: the answer is ${label ? label[1] : answer}. ${evidence}`;
        verdict.classList.toggle("nb-predict-right", right);
        root.dataset.answer = String(answer);
        widget.announce({ answer });
      });
    });
    return widget;
  }

  kit.add("predict", predictWidget);
})();
