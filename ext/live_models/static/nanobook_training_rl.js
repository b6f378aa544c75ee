/* The live-training widget with :run: rl: the reader runs the RL chapter's REINFORCE or
   GRPO from the chapter's start model, with their own group size, learning rate, steps,
   seed and reward (the exact-sort check or the gameable one), and watches the held-out
   pass@1 and pass@k, the mean reward and the share of answers that really sort.

   Before the reader presses Train the page holds only this script, the training widget's
   (whose parts it uses: kit.trainingParts) and the controls, with the bounds and choices
   the build gives (ext/live_models/rl_training.py, in the widget's options). Train loads
   the trainer (nanobook_train.js, in a Web Worker where it can), what shows the run (the
   RL part of nanobook_training_run.js) and the run's export: the start model, the rules
   and prompts of rl_runs.py, and the book's recorded REINFORCE run.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element } = kit;
  const parts = () => kit.trainingParts;

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
    // the run shown, what hears its trainer and the view of it: nanobook_training_run.js's,
    // made when the reader first presses Train
    const shown = { run: null, hear: null, view: null };
    const say = parts().evaluationNews(widget); // there from the start, as the status line is
    const wiring = { shown, fields, setButtons, say };
    const loading = "Loading the trainer and the chapter's start model…";
    const { trainer, view } = options;
    const pressed = { fields, setButtons, trainer, view, loading };
    const train = () =>
      parts().pressTrain(widget, shown, pressed, (model, payload) =>
        kit.trainingRun.beginRL(widget, options, wiring, model, payload),
      );
    const hand = (run) =>
      kit.trainingRun.handOver(widget, options.preset, run.handle, run.shape, "your RL model");
    parts().wireButtons(buttons, () => shown.run, train, hand);
    return widget;
  }

  kit.add("rl-training", rlWidget);
})();
