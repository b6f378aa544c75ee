/* The live-chat widget and the conversation rules it runs: model_src/chat.py in the browser.

     const model = await nanobook.model("finetune-mixture");
     nanobook.chat.render(model, [["user", "↑CAB"], ["assistant", "ABC"]]) -> {ids, trained}
     nanobook.chat.prompt(model, "↑", "CAB")      -> ids: the user's turn and <assistant>
     nanobook.chat.rightReply(model, "↑", "CAB")  -> "ABC", chat.TASKS's answer
     nanobook.chat.problem(model, "↑", "CAD")     -> why the turn cannot be asked, or null
     nanobook.chat.replier(model, ids).step()     -> {token, logits}, one greedy token, or null
     nanobook.chat.reply(model, ids)              -> {ids, logits}: the reply, as compute.chat_reply

   Every rule is the model's `chat` record, exported by the build from chat.py: each
   role's tokens around its text with the loss's mask, the stop token, the letters, and
   each request's right reply to every set of letters that fits the context. The widget:
   a request, letters and a model; the turn with its right reply as fine-tuning renders
   it, the tokens the loss scores marked; then the model's own reply, token by token.
*/
(() => {
  "use strict";

  const kit = nanobook.widgets;
  const { element, argmax } = kit;

  /** chat.render: each turn's tokens, and whether the loss scores each one. */
  function render(model, turns) {
    const ids = [];
    const trained = [];
    const put = ([token, scored]) => {
      ids.push(model.stoi.get(token));
      trained.push(scored);
    };
    for (const [role, text] of turns) {
      const layout = model.chat.roles[role];
      layout.before.forEach(put);
      for (const letter of text) put([letter, layout.text]);
      layout.after.forEach(put);
    }
    return { ids, trained };
  }

  /** chat.prompt: the user's turn, then what opens the assistant's. */
  function prompt(model, request, letters) {
    const opening = model.chat.roles.assistant.before.map(([token]) => model.stoi.get(token));
    return [...render(model, [["user", request + letters]]).ids, ...opening];
  }

  /** The build's table is keyed by the letters in vocabulary order (an answer depends on
      which letters there are, not their order); undefined if the conversation cannot fit. */
  function rightReply(model, request, letters) {
    const key = [...letters].sort((a, b) => model.stoi.get(a) - model.stoi.get(b)).join("");
    const answers = model.chat.answers;
    return Object.hasOwn(answers, request) && Object.hasOwn(answers[request], key)
      ? answers[request][key]
      : undefined;
  }

  /** The most letters a request takes: its longest key in the build's table. */
  function mostLetters(model, request) {
    return Math.max(...Object.keys(model.chat.answers[request]).map((key) => key.length));
  }

  /** Why the turn cannot be asked, or null: compute.chat_prompt_problem's rules. */
  function problem(model, request, letters) {
    const rules = model.chat;
    const known = rules.letters.join(", ");
    if (!Object.hasOwn(rules.answers, request))
      return `Choose a request: ${Object.keys(rules.answers).join(" or ")}.`;
    const strange = [...new Set([...letters].filter((ch) => !rules.letters.includes(ch)))];
    if (strange.length) {
      const said = strange.map((ch) => `“${ch}”`).join(", ");
      return `${said} ${strange.length > 1 ? "are not letters" : "is not a letter"} the chat models read: they know ${known}.`;
    }
    if (!letters.length) return `Type letters after the request (${known}).`;
    if (rightReply(model, request, letters) === undefined) {
      return `${request} takes at most ${mostLetters(model, request)} letters: with its reply the conversation must fit the model's ${model.config.block_size} positions, and ${[...letters].length} do not.`;
    }
    return null;
  }

  /** compute.chat_reply, a token per step(): the likeliest (the first of ties) until the
      stop token, or until the context is full. */
  function replier(model, promptIds) {
    const stop = model.stoi.get(model.chat.stop);
    const ids = promptIds.slice();
    let stopped = false;
    function step() {
      if (stopped || ids.length > model.config.block_size) return null;
      const { logits } = model.forward(ids);
      const last = logits[logits.length - 1];
      const token = argmax(last);
      ids.push(token);
      stopped = token === stop;
      return { token, logits: last };
    }
    return { ids, step };
  }

  function reply(model, promptIds) {
    const session = replier(model, promptIds);
    const logits = [];
    for (let step = session.step(); step; step = session.step())
      logits.push(Array.from(step.logits));
    return { ids: session.ids.slice(promptIds.length), logits };
  }

  nanobook.chat = { render, prompt, rightReply, problem, replier, reply };

  // --- the widget -------------------------------------------------------------------------

  /** A token with its id; `mark` is what the reader sees under it, `said` what a screen
      reader hears instead. */
  function cell(model, token, className, mark, said) {
    return element(
      "li",
      { className: `nb-chat-token ${className}` },
      element("span", { className: "nb-chat-tok", text: model.shown[token] }),
      element("span", { className: "nb-chat-id", text: `id ${token}` }),
      element("span", { className: "nb-chat-mark", "aria-hidden": "true", text: mark }),
      element("span", { className: "nb-live-sr", text: said }),
    );
  }

  /** The controls: the request, the letters, the run (when there are several), Reply. */
  function chatControls(widget, options) {
    const id = widget.id;
    const [firstRequest, ...firstLetters] = [...options.prompt];
    const requestMenu = element(
      "select",
      { id: `${id}-request` },
      ...options.requests.map(([token, name]) =>
        element("option", { value: token, text: `${token}  ${name}` }),
      ),
    );
    requestMenu.value = firstRequest;
    const letters = kit.textInput(`${id}-letters`, firstLetters.join(""), {
      autocapitalize: "characters",
      "aria-describedby": `${id}-hint`,
    });
    const runMenu = element(
      "select",
      { id: `${id}-run` },
      ...options.runs.map((run, i) =>
        element("option", { value: String(i), text: `${run.name}: ${run.about}` }),
      ),
    );
    const replyButton = kit.button("Reply");
    const hint = kit.hint(`${id}-hint`);
    // Reply beside the letters it sends (it wraps under them on a narrow screen), the hint
    // under both: the field's foot, where the letters are typed
    const lettersField = kit.field("Letters", letters, hint);
    const entry = element("div", { className: "nb-chat-entry" });
    letters.replaceWith(entry);
    entry.append(letters, replyButton);
    lettersField.classList.add("nb-chat-letters");
    widget.controls.append(
      kit.field("Request", requestMenu),
      ...(options.runs.length > 1 ? [kit.field("Model", runMenu)] : []),
      lettersField,
    );
    return { requestMenu, letters, runMenu, replyButton, hint };
  }

  /** The controls, and the conversation and the reply, each a row of tokens. */
  function chatView(widget, options) {
    const id = widget.id;
    const controls = chatControls(widget, options);
    const conversationTitle = element("p", {
      className: "nb-chat-title",
      id: `${id}-conversation`,
    });
    const conversation = element("ol", {
      className: "nb-chat-row",
      "aria-labelledby": conversationTitle.id,
    });
    const replyTitle = element("p", { className: "nb-chat-title", id: `${id}-reply` });
    const replyRow = element("ol", { className: "nb-chat-row", "aria-labelledby": replyTitle.id });
    const readout = element("p", { className: "nb-live-readout", "aria-live": "polite" });
    const legend = element(
      "p",
      { className: "nb-chat-legend", "aria-hidden": "true" },
      element("span", { className: "nb-chat-token nb-chat-scored", text: "scored by the loss" }),
      element("span", { className: "nb-chat-token", text: "read, not scored" }),
      element("span", { className: "nb-chat-token nb-chat-right", text: "✓ the right token" }),
      element("span", { className: "nb-chat-token nb-chat-wrong", text: "✗ a wrong one" }),
    );
    widget.live.append(conversationTitle, conversation, replyTitle, replyRow, readout, legend);
    const note = kit.trainingNote(widget, controls.letters, readout);
    return { ...controls, conversationTitle, conversation, replyTitle, replyRow, readout, note };
  }

  function describe(run, model, written, right) {
    const text = (ids) => ids.map((token) => model.vocab[token]).join(" ");
    const full = written[written.length - 1] !== model.stoi.get(model.chat.stop);
    const ending = full ? `, and the context is full before it writes ${model.chat.stop}` : "";
    const verdict =
      text(written) === text(right) ? "right" : `wrong; the right reply is “${text(right)}”`;
    return `The ${run.name} model replies “${text(written)}”${ending}: ${verdict}.`;
  }

  /** The reply's token against the right one at its place. */
  function replyCell(model, token, wanted) {
    if (token === wanted) return cell(model, token, "nb-chat-right", "✓", "right");
    const said =
      wanted === undefined
        ? "wrong: the right reply has ended"
        : `wrong: the right token is ${model.vocab[wanted]}`;
    return cell(model, token, "nb-chat-wrong", "✗", said);
  }

  /** Write the run's greedy reply token by token (at once with reduced motion). */
  function writeReply(w, model, run, question, right) {
    const { widget, view, timer } = w;
    view.replyRow.replaceChildren();
    view.readout.textContent = "Replying…";
    const session = replier(model, question);
    const advance = () => {
      const step = session.step();
      if (step) {
        view.replyRow.append(replyCell(model, step.token, right[view.replyRow.children.length]));
        if (kit.reducedMotion.matches) return advance(); // no animation: the whole reply at once
        timer.id = setTimeout(advance, 140);
        return;
      }
      const written = session.ids.slice(question.length);
      view.readout.textContent = describe(run, model, written, right);
      widget.announce({ run: run.script, ids: written, right });
    };
    advance();
  }

  /** The reader's turn: the hint, the problem if any, the conversation as fine-tuning
      renders it, then the run's reply. */
  function show(w, model, run) {
    const { widget, view } = w;
    const { letters, requestMenu } = view;
    letters.value = letters.value.toUpperCase(); // the hint says so: "abc" is ABC
    const text = letters.value;
    const request = requestMenu.value;
    const limits = Object.keys(model.chat.answers).map(
      (token) => `${mostLetters(model, token)} after ${token}`,
    );
    view.hint.textContent = `${kit.trainedOn(run.trained)} Letters ${model.chat.letters.join(", ")} (lower case is read as upper case): up to ${limits.join(", ")}.`;
    const problemNow = problem(model, request, text);
    kit.markInvalid(widget, letters, Boolean(problemNow));
    view.note(problemNow ? null : run.trained, request + text);
    widget.status.textContent = problemNow || "";
    kit.hideStale(widget, Boolean(problemNow)); // the last turn's reply is not this one's
    if (problemNow) return;

    const rendered = render(model, [
      ["user", request + text],
      ["assistant", rightReply(model, request, text)],
    ]);
    const question = prompt(model, request, text);
    view.conversationTitle.textContent =
      "Your turn with its right reply, as fine-tuning renders it: the loss scores only the marked tokens.";
    view.conversation.replaceChildren(
      ...rendered.ids.map((token, i) =>
        rendered.trained[i]
          ? cell(model, token, "nb-chat-scored", "scored", "scored by the loss")
          : cell(model, token, "", "–", "not scored"),
      ),
    );
    view.replyTitle.textContent = `The ${run.name} model's own reply, greedy, after ${model.vocab[question[question.length - 1]]}:`;
    writeReply(w, model, run, question, rendered.ids.slice(question.length));
  }

  function chatWidget(root, options) {
    const widget = kit.setUp(root, options);
    const view = chatView(widget, options);
    const w = { widget, view, timer: { id: 0 } };
    let asked = 0; // the latest reply asked for: a model that loads late answers nothing

    function start() {
      clearTimeout(w.timer.id);
      const run = options.runs[Number(view.runMenu.value)];
      const mine = ++asked;
      nanobook.model(run.script, run.src).then(
        (model) => mine === asked && show(w, model, run),
        (error) => {
          widget.status.textContent = `The ${run.name} model is not available: ${error.message}.`;
        },
      );
    }

    widget.runWhenAsked(start, {
      click: [view.replyButton],
      change: [view.requestMenu, view.runMenu],
      enter: [view.letters],
    });
    return widget;
  }

  kit.add("chat", chatWidget);
})();
