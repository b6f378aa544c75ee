/* Training in the reader's browser: model_src/train.py's loop, in plain JavaScript (the
   products of the linear layers in nanobook_live.js's WebAssembly kernel).

   Loaded after nanobook_live.js, and only when the reader asks to train (a page that
   only reads models never fetches it). Defines `nanobook.training`. `rules` and `data`
   are what ext/live_models/training.py exports (training_rules, training_data);
   options = {config, weights, rules, settings = rules.settings, data, startIter = 0}:

     const run = nanobook.training.start(options, listen)  // in a Web Worker, else on
         the page; listen({type: "record", record}) with train.fit's log record of each
         step ({iter, loss, lr, norm}, + train_loss, val_loss and the held-out accuracy
         every eval_interval, + the probe's attention at each logged step), and
         {type: "state", state: "running" | "paused" | "done" | "stopped"}, {type: "error"},
         {type: "diverged", record, key} when a loss or score stops being a finite number
     run.pause(), run.resume(), run.step(), run.stop(), await run.weights(), run.mode()
     const session = nanobook.training.session(options)   // the same run, synchronous:
         session.advance() -> record, session.done, session.trainer
     const trainer = nanobook.training.trainer(options)   // one step at a time:
     trainer.step([{x, y}, ...]) -> {iter, loss, lr, norm}   one optimiser step over its
                                    micro-batches (x, y: B rows of T token ids; y = -1
                                    is not scored), as train.fit's loop body
     trainer.gradients({x, y})   -> {loss, grads}            loss.backward() alone
     trainer.params, trainer.iter, trainer.model(payload)    -> a nanobook.Model

   The forward pass is nanobook_live.js's (nanobook._forward), recording a tape; the
   backward pass below differentiates it by hand. Settings (learning rate, schedule,
   betas, clipping, ...), the optimiser's parameter groups and eps, and LayerNorm's eps
   all come from `rules`, exported from train.py's config, GPT.configure_optimizers and the
   model itself: nothing here restates them. Batches are drawn as train.fit draws them,
   from the same seed.
*/
(() => {
  "use strict";
  const nanobook = globalThis.nanobook;
  if (!nanobook?._forward) throw new Error("nanobook_train.js needs nanobook_live.js first");

  // The passes of a step or an evaluation take their arrays from these buffers, kept from
  // one to the next (see nanobook._inScratch): what such a pass returns is a number or a
  // new array, never one of its own.
  const passBuffers = nanobook._scratch();
  const inScratch = (work) => nanobook._inScratch(passBuffers, work);

  // --- backward pass ----------------------------------------------------------------------

  // y = x W^T + b (nn.Linear) backward: returns dL/dx = dy W (N, nIn) and adds
  // dL/dW = dy^T x and dL/db = Σ dy into gWeight and gBias, each sum going on, term by
  // term, from the gradient so far (as .grad accumulates, in float64's rounding). The
  // products skip the rows of dy that are all zero (they add nothing): the positions whose
  // loss is not scored send nothing back through the last block's MLP.
  function linearBackward(dy, x, N, nIn, nOut, weight, gWeight, gBias) {
    const rows = rowsInUse(dy, N, nOut);
    if (!rows) return linearProducts(dy, x, N, nIn, nOut, weight, gWeight, gBias);
    const [dyKept, xKept] = [gatherRows(dy, rows, nOut), gatherRows(x, rows, nIn)];
    const kept = linearProducts(dyKept, xKept, rows.length, nIn, nOut, weight, gWeight, gBias);
    const dx = nanobook._newArray(N * nIn);
    rows.forEach((n, r) => {
      dx.set(kept.subarray(r * nIn, (r + 1) * nIn), n * nIn);
    });
    return dx;
  }

  // gWeight += dy^T x and gBias += Σ dy, each sum down the N rows in order; returns dy W.
  // In nanobook_live.js's kernel memory, as the forward pass's products.
  function linearProducts(dy, x, N, nIn, nOut, weight, gWeight, gBias) {
    const kernel = nanobook._kernel;
    kernel.start();
    const [dyAt, xAt, gWeightAt] = [kernel.put(dy), kernel.put(x), kernel.put(gWeight)];
    kernel.products(gWeightAt, gWeightAt, nIn, dyAt, 1, nOut, xAt, nOut, N, nIn);
    kernel.takeInto(gWeightAt, gWeight);
    if (gBias) {
      // Σ_n 1 · dy[n]: one row whose every term's factor is the same 1
      const [gBiasAt, oneAt] = [kernel.put(gBias), kernel.put([1])];
      kernel.products(gBiasAt, gBiasAt, nOut, oneAt, 0, 0, dyAt, 1, N, nOut);
      kernel.takeInto(gBiasAt, gBias);
    }
    const [weightAt, zerosAt] = [kernel.put(weight), kernel.zeros(nIn)];
    const dxAt = kernel.reserve(N * nIn);
    kernel.products(dxAt, zerosAt, 0, dyAt, nOut, 1, weightAt, N, nOut, nIn);
    return kernel.take(dxAt, N * nIn);
  }

  // The indices of the rows of dy (N, width) with a number other than 0; null if all have.
  function rowsInUse(dy, N, width) {
    const rows = [];
    for (let n = 0; n < N; n++) {
      const end = (n + 1) * width;
      let i = n * width;
      while (i < end && dy[i] === 0) i++;
      if (i < end) rows.push(n);
    }
    return rows.length < N ? rows : null;
  }

  // the given rows of values (rows of `width`), one after the other
  function gatherRows(values, rows, width) {
    const out = nanobook._newArray(rows.length * width);
    rows.forEach((n, r) => {
      out.set(values.subarray(n * width, (n + 1) * width), r * width);
    });
    return out;
  }

  // LayerNorm backward from its record (normalised rows x̂, 1/σ): with g = dy·weight,
  // dx = (g - mean(g) - x̂·mean(g·x̂)) / σ, row by row.
  function layerNormBackward(dy, record, N, C, weight, gWeight, gBias) {
    const { normalised, inverseStd } = record;
    const dx = nanobook._newArray(N * C);
    for (let n = 0; n < N; n++) {
      const row = n * C;
      let sumG = 0;
      let sumGX = 0;
      for (let c = 0; c < C; c++) {
        const g = dy[row + c] * weight[c];
        sumG += g;
        sumGX += g * normalised[row + c];
        gWeight[c] += dy[row + c] * normalised[row + c];
        if (gBias) gBias[c] += dy[row + c];
      }
      const meanG = sumG / C;
      const meanGX = sumGX / C;
      for (let c = 0; c < C; c++) {
        const g = dy[row + c] * weight[c];
        dx[row + c] = inverseStd[n] * (g - meanG - normalised[row + c] * meanGX);
      }
    }
    return dx;
  }

  // Attention backward: dy (B·T, C) -> dqkv (B·T, 3C), through y = att·v, the softmax
  // (ds = att·(datt - Σ att·datt)) and the scaled scores q·k/√hs.
  function attendBackward(dy, qkv, att, B, T, C, nh) {
    const hs = C / nh;
    const scale = 1 / Math.sqrt(hs);
    const stride = 3 * C; // from one position's q (k, v) to the next's
    const dqkv = nanobook._newArray(B * T * stride);
    const dAtt = nanobook._newArray(T);
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < nh; head++) {
        const queries = b * T * stride + head * hs; // position 0's query, key and value
        const [keys, values] = [queries + C, queries + 2 * C];
        for (let t = 0; t < T; t++) {
          const row = ((b * nh + head) * T + t) * T;
          const dOut = (b * T + t) * C + head * hs;
          const q = queries + t * stride;
          let weighted = 0; // Σ_j att·datt
          for (let j = 0, v = values; j <= t; j++, v += stride) {
            const weight = att[row + j];
            let dot = 0;
            for (let d = 0; d < hs; d++) {
              dot += dy[dOut + d] * qkv[v + d];
              dqkv[v + d] += weight * dy[dOut + d];
            }
            dAtt[j] = dot;
            weighted += weight * dot;
          }
          for (let j = 0, k = keys; j <= t; j++, k += stride) {
            const dScore = att[row + j] * (dAtt[j] - weighted) * scale;
            for (let d = 0; d < hs; d++) {
              dqkv[q + d] += dScore * qkv[k + d];
              dqkv[k + d] += dScore * qkv[q + d];
            }
          }
        }
      }
    }
    return dqkv;
  }

  // One Block backward, from the bottom of its MLP up to its input: dx (B·T, C) is the
  // gradient of the block's output, updated in place to that of its input.
  function blockBackward(w, g, p, config, record, dx, B, T) {
    const { n_head: nh, n_embd: C, bias } = config;
    const N = B * T;
    const { ln1, qkv, att, y, ln2, slope, act } = record;
    // the layer `name` of this block: its weight, and the gradients its backward adds to
    const layer = (name) => [
      w[`${p}${name}.weight`],
      g[`${p}${name}.weight`],
      bias ? g[`${p}${name}.bias`] : null,
    ];
    const linear = (dy, x, nIn, nOut, name) => linearBackward(dy, x, N, nIn, nOut, ...layer(name));
    const norm = (dy, saved, name) => layerNormBackward(dy, saved, N, C, ...layer(name));
    // x += mlp(ln_2(x))
    const dAct = linear(dx, act, 4 * C, C, "mlp.c_proj");
    // through the GELU: its slope Φ(u) + u·φ(u), kept by the forward pass
    for (let i = 0; i < dAct.length; i++) dAct[i] *= slope[i];
    const dx2 = norm(linear(dAct, ln2.out, C, 4 * C, "mlp.c_fc"), ln2, "ln_2");
    for (let i = 0; i < dx.length; i++) dx[i] += dx2[i];
    // x += attn(ln_1(x))
    const dqkv = attendBackward(linear(dx, y, C, C, "attn.c_proj"), qkv, att, B, T, C, nh);
    const dx1 = norm(linear(dqkv, ln1.out, C, 3 * C, "attn.c_attn"), ln1, "ln_1");
    for (let i = 0; i < dx.length; i++) dx[i] += dx1[i];
  }

  /** loss.backward() for the tape of one forward pass with targets: adds scale·dL/dθ
      into grads (name -> Float64Array, as the weights), as .grad accumulates. With
      rowWeights (one number per sequence), the loss is instead Σ_b rowWeights[b] times
      the sum of -log p(target) over sequence b's scored positions (a policy gradient). */
  function backward(w, g, config, tape, scale = 1, rowWeights = null) {
    const { vocab_size: V, n_layer, n_embd: C, bias } = config;
    const { ids, B, T, probs, targets, count } = tape;
    const N = B * T;
    // cross-entropy: dL/dlogits = (softmax - onehot(target)) / count, 0 where not scored
    const dLogits = nanobook._newArray(N * V);
    for (let n = 0; n < N; n++) {
      if (targets[n] === -1) continue;
      const [times, over] = rowWeights ? [rowWeights[Math.floor(n / T)], 1] : [scale, count];
      for (let v = 0; v < V; v++) dLogits[n * V + v] = (probs[n * V + v] * times) / over;
      dLogits[n * V + targets[n]] -= times / over;
    }
    const wte = "transformer.wte.weight";
    const dFinal = linearBackward(dLogits, tape.lnf.out, N, C, V, w[wte], g[wte], null);
    const lnfBias = bias ? g["transformer.ln_f.bias"] : null;
    const dx = layerNormBackward(
      dFinal,
      tape.lnf,
      N,
      C,
      w["transformer.ln_f.weight"],
      g["transformer.ln_f.weight"],
      lnfBias,
    );
    for (let l = n_layer - 1; l >= 0; l--) {
      blockBackward(w, g, `transformer.h.${l}.`, config, tape.layers[l], dx, B, T);
    }
    // the embeddings: wte's rows also collect the lm_head's gradient above (tied)
    const gWte = g[wte];
    const gWpe = g["transformer.wpe.weight"];
    for (let n = 0; n < N; n++) {
      const token = ids[n] * C;
      const position = (n % T) * C;
      for (let c = 0; c < C; c++) {
        gWte[token + c] += dx[n * C + c];
        gWpe[position + c] += dx[n * C + c];
      }
    }
  }

  // --- optimiser, schedule, clipping ------------------------------------------------------

  /** train.get_lr: linear warmup to learning_rate, half a cosine down to min_lr at
      lr_decay_iters, then min_lr. */
  function learningRate(it, s) {
    if (!s.decay_lr) return s.learning_rate;
    if (it < s.warmup_iters) return (s.learning_rate * (it + 1)) / (s.warmup_iters + 1);
    if (it >= s.lr_decay_iters) return s.min_lr;
    const progress = (it - s.warmup_iters) / (s.lr_decay_iters - s.warmup_iters);
    return s.min_lr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.learning_rate - s.min_lr);
  }

  // torch.nn.utils.clip_grad_norm_ (torch 2.x) adds this to the norm before dividing, so a
  // zero gradient never divides by zero: a constant inside torch, not a setting of train.py.
  const CLIP_EPSILON = 1e-6;

  /** torch.nn.utils.clip_grad_norm_: the norm of all gradients as one vector; every
      gradient times min(max_norm / (norm + 1e-6), 1). Returns the norm before clipping. */
  function clipGradients(grads, maxNorm) {
    let squares = 0;
    for (const g of grads) for (const v of g) squares += v * v;
    const norm = Math.sqrt(squares);
    const factor = Math.min(maxNorm / (norm + CLIP_EPSILON), 1);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= factor;
    return norm;
  }

  /** torch.optim.AdamW's step for one tensor (the single-tensor path, amsgrad off):
      decoupled decay, moments, bias corrections, param -= lr/bc1 · m / (√v/√bc2 + eps),
      computed in float64; `keep` rounds what the step leaves to the weights' dtype. */
  function adamW(param, grad, state, { lr, weightDecay, beta1, beta2, eps, keep }) {
    state.step += 1;
    if (weightDecay !== 0) for (let i = 0; i < param.length; i++) param[i] *= 1 - lr * weightDecay;
    const stepSize = lr / (1 - beta1 ** state.step);
    const correction2 = Math.sqrt(1 - beta2 ** state.step);
    const { m, v } = state;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i];
      const mean = m[i] + (g - m[i]) * (1 - beta1); // exp_avg.lerp_(grad, 1 - beta1)
      const square = v[i] * beta2 + (1 - beta2) * g * g;
      param[i] = keep(param[i] - (stepSize * mean) / (Math.sqrt(square) / correction2 + eps));
      m[i] = keep(mean);
      v[i] = keep(square);
    }
  }

  // How a step's results are kept, by the weights' dtype (rules.weights_dtype): train.fit
  // keeps weights and AdamW's moments in it between steps (train.arithmetic), so a
  // float32 model's are rounded to the nearest float32 after every step, as PyTorch does.
  const KEEP = { float32: Math.fround, float64: (value) => value };

  // --- the trainer ------------------------------------------------------------------------

  // The settings the step reads; each must come from the exported rules (or the reader),
  // none has a default here.
  const NEEDED = [
    "learning_rate",
    "min_lr",
    "warmup_iters",
    "lr_decay_iters",
    "decay_lr",
    "weight_decay",
    "beta1",
    "beta2",
    "grad_clip",
    "gradient_accumulation_steps",
    "dropout",
  ];

  // A layer's parameter names stand for all layers in the exported groups: h.0. -> h.*.
  const groupPattern = (name) => name.replace(/\.h\.\d+\./, ".h.*.");

  function groupOf(rules, name) {
    const group = rules.groups.find((g) => g.params.includes(groupPattern(name)));
    if (!group) throw new Error(`no optimiser group for ${name}`);
    return group;
  }

  function checkRules(rules, settings) {
    const missing = NEEDED.filter((key) => !(key in settings));
    if (missing.length) throw new Error(`settings missing: ${missing.join(", ")}`);
    if (settings.dropout !== 0) throw new Error("the page trains without dropout only");
    if (!(rules.weights_dtype in KEEP)) throw new Error(`weights in ${rules.weights_dtype}?`);
    const { name, amsgrad, maximize } = rules.optimizer;
    if (name !== "AdamW" || amsgrad || maximize) {
      throw new Error(`the page runs AdamW without amsgrad or maximize, not ${name}`);
    }
  }

  // Token rows (B arrays of T ids) -> one flat array, checked against the model's shape.
  function flatRows(rows, config, what, low) {
    const T = rows[0]?.length;
    if (!(T >= 1 && T <= config.block_size))
      throw new RangeError(`${what}: need 1 to ${config.block_size} tokens a row`);
    const flat = new Int32Array(rows.length * T);
    rows.forEach((row, b) => {
      if (row.length !== T) throw new RangeError(`${what}: rows of different lengths`);
      row.forEach((id, t) => {
        if (!(Number.isInteger(id) && id >= low && id < config.vocab_size)) {
          throw new RangeError(`${what}: token id ${id} out of range`);
        }
        flat[b * T + t] = id;
      });
    });
    return { flat, B: rows.length, T };
  }

  class Trainer {
    /** config: the model's shape (as a Model's config, LayerNorm's eps taken from the
        rules); weights: name -> numbers, copied (state-dict names, wte tied to lm_head);
        rules: the exported training rules;
        settings: rules.settings, or the reader's changes to them; startIter: the step the
        schedule starts at (train.fit's start_iter), with fresh optimiser moments. */
    constructor({ config, weights, rules, settings = rules.settings, startIter = 0 }) {
      checkRules(rules, settings);
      // a config may come as train.py's has it (rules.config), without LayerNorm's eps:
      // the forward pass reads the one the rules carry
      this.config = Object.freeze({ ...config, layer_norm_eps: rules.layer_norm_eps });
      this.rules = rules;
      this.settings = Object.freeze({ ...settings });
      this.iter = startIter;
      this.params = {};
      this.state = {};
      for (const [name, values] of Object.entries(weights)) {
        this.params[name] = Float64Array.from(values);
        const group = groupOf(rules, name);
        this.state[name] = {
          step: 0,
          m: new Float64Array(values.length),
          v: new Float64Array(values.length),
          weightDecay:
            group.weight_decay === "setting" ? settings.weight_decay : group.weight_decay,
          lrScale: group.lr_scale,
        };
      }
    }

    /** The loss of one batch and, added into `grads` (fresh zeros if not given), its
        gradient times `scale`: loss.backward() on loss·scale. */
    gradients({ x, y }, grads = null, scale = 1) {
      const ids = flatRows(x, this.config, "x", 0);
      const targets = flatRows(y, this.config, "y", -1);
      if (targets.B !== ids.B || targets.T !== ids.T)
        throw new RangeError("x and y differ in shape");
      const into = grads || this.zeroGradients();
      const loss = inScratch(() => {
        const tape = {};
        const { params, config } = this;
        const options = { targets: targets.flat, tape };
        const { loss } = nanobook._forward(params, config, ids.flat, ids.B, ids.T, options);
        backward(params, into, config, tape, scale);
        return loss;
      });
      return { loss, grads: into };
    }

    /** The mean loss of one batch, as model(x, y) in eval mode: no tape, no gradient. */
    loss({ x, y }) {
      const ids = flatRows(x, this.config, "x", 0);
      const targets = flatRows(y, this.config, "y", -1).flat;
      const { params, config } = this;
      return inScratch(
        () => nanobook._forward(params, config, ids.flat, ids.B, ids.T, { targets }).loss,
      );
    }

    zeroGradients() {
      const grads = {};
      for (const [name, p] of Object.entries(this.params)) grads[name] = new Float64Array(p.length);
      return grads;
    }

    /** One iteration of train.fit's loop: the schedule's rate, each micro-batch's loss
        divided by their number and backpropagated, clipping, AdamW. Returns the step
        reached, the mean loss, the rate used and the gradients' norm before clipping. */
    step(microBatches) {
      const s = this.settings;
      if (microBatches.length !== s.gradient_accumulation_steps) {
        throw new RangeError(`need ${s.gradient_accumulation_steps} micro-batches a step`);
      }
      const grads = this.zeroGradients();
      let lossSum = 0;
      for (const batch of microBatches) {
        lossSum += this.gradients(batch, grads, 1 / microBatches.length).loss;
      }
      const { lr, norm } = this.update(grads);
      return { iter: this.iter, loss: lossSum / microBatches.length, lr, norm };
    }

    /** The rest of a step once the gradients are in: the schedule's rate, clipping (when
        the settings clip), AdamW over every parameter. Returns the rate and the norm. */
    update(grads) {
      const s = this.settings;
      const lr = learningRate(this.iter, s);
      let norm = null;
      if (s.grad_clip) norm = clipGradients(Object.values(grads), s.grad_clip);
      const { eps } = this.rules.optimizer;
      const keep = KEEP[this.rules.weights_dtype];
      for (const [name, param] of Object.entries(this.params)) {
        const state = this.state[name];
        const options = { lr: lr * state.lrScale, weightDecay: state.weightDecay, eps, keep };
        adamW(param, grads[name], state, { ...options, beta1: s.beta1, beta2: s.beta2 });
      }
      this.iter += 1;
      return { lr, norm };
    }

    /** rl.rl_step's update for answers already sampled (see policyStep below). */
    policyStep(prompts, answers, options) {
      return policyStep(this, prompts, answers, options);
    }

    /** The trained weights as a model other widgets can read (`payload` as a model's
        script registers it: name, vocab, shown, task). The model shares the weights:
        training on changes it. */
    model(payload) {
      return new nanobook.Model({ ...payload, config: this.config }, this.params);
    }
  }

  // --- batches, as train.py draws them ---------------------------------------------------

  /** at::mt19937, the generator behind a CPU torch.Generator: manual_seed(seed) seeds it
      with the seed's low 32 bits, and torch.randint(n) takes its next output modulo n. So
      a seed gives the batches train.py draws with it. Returns next() -> uint32. */
  function mersenneTwister(seed) {
    const state = new Uint32Array(624);
    state[0] = seed % 2 ** 32;
    for (let i = 1; i < 624; i++) {
      const previous = state[i - 1] ^ (state[i - 1] >>> 30);
      state[i] = Math.imul(1812433253, previous) + i;
    }
    let index = 624;
    return () => {
      if (index === 624) {
        for (let k = 0; k < 624; k++) {
          const y = (state[k] & 0x80000000) | (state[(k + 1) % 624] & 0x7fffffff);
          state[k] = state[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
        }
        index = 0;
      }
      let y = state[index++];
      y ^= y >>> 11;
      y ^= (y << 7) & 0x9d2c5680;
      y ^= (y << 15) & 0xefc60000;
      return (y ^ (y >>> 18)) >>> 0;
    };
  }

  /** prepare.sample_batch for the sort task: `size` whole rows drawn as randint(rows)
      draws them, x the row without its last token, y without its first, the positions
      data.unscored (exported, read off sample_batch's own output) set to -1. */
  function sortBatch(rows, data, size, next) {
    const count = rows.length / data.seq_len;
    const x = [];
    const y = [];
    for (let b = 0; b < size; b++) {
      const start = (next() % count) * data.seq_len;
      const row = Array.from(rows.slice(start, start + data.seq_len));
      x.push(row.slice(0, -1));
      const targets = row.slice(1);
      for (const position of data.unscored) targets[position] = -1;
      y.push(targets);
    }
    return { x, y };
  }

  // --- what a run shows of the model: its held-out score and its attention -----------------

  /** The first index of a row's largest entry, as torch.argmax picks it. */
  function likeliest(values, start, length) {
    let best = 0;
    for (let i = 1; i < length; i++) if (values[start + i] > values[start + best]) best = i;
    return best;
  }

  /** tasks.sort_accuracy over every held-out row: the share that greedy decoding sorts.
      It writes a whole answer right exactly when each answer letter is the likeliest given
      the right ones before it, so one pass over the complete rows scores just that
      (model_src/replay.py's answers_right). data.held_out.prompt_len is where answers start. */
  function heldOutAccuracy(params, config, data) {
    const L = data.seq_len;
    const T = L - 1;
    const N = data.val.length / L;
    const ids = new Int32Array(N * T);
    for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) ids[n * T + t] = data.val[n * L + t];
    const V = config.vocab_size;
    let right = 0;
    inScratch(() => {
      const { logits } = nanobook._forward(params, config, ids, N, T);
      for (let n = 0; n < N; n++) {
        let sorted = true;
        for (let t = data.held_out.prompt_len - 1; t < T && sorted; t++) {
          sorted = likeliest(logits, (n * T + t) * V, V) === data.val[n * L + t + 1];
        }
        right += sorted;
      }
    });
    return right / N;
  }

  /** Every head's attention on the held-out probe the build hands over (the replay's first):
      [layer][head][query] rows of keys 0 to the query, the rest being masked. */
  function probeAttention(params, config, probe) {
    const T = probe.length;
    const { attention } = nanobook._forward(params, config, Int32Array.from(probe), 1, T);
    return attention.map((att) =>
      Array.from({ length: config.n_head }, (_, h) =>
        Array.from({ length: T }, (_, q) => {
          const start = (h * T + q) * T;
          return Array.from(att.subarray(start, start + q + 1));
        }),
      ),
    );
  }

  // --- a run: train.fit's loop, one iteration at a time -----------------------------------

  class Session {
    /** A Trainer (same options) plus the data the batches come from (training.py's
        training_data). The batches follow train.fit: a generator seeded with
        seed + startIter, micro-batch after micro-batch. */
    constructor(options) {
      this.trainer = new Trainer(options);
      this.settings = this.trainer.settings;
      this.data = options.data;
      if (this.settings.block_size !== this.data.seq_len - 1) {
        throw new RangeError(`sort rows need block_size ${this.data.seq_len - 1}`);
      }
      this.next = mersenneTwister(this.settings.seed + this.trainer.iter);
    }

    get done() {
      return this.trainer.iter >= this.settings.max_iters;
    }

    /** One iteration: the step, and every eval_interval steps (and at max_iters) the
        evaluation. The record is train.fit's log record, plus the gradients' norm, the
        held-out accuracy at each evaluation and the probe's attention when it is logged. */
    advance() {
      const s = this.settings;
      const micro = Array.from({ length: s.gradient_accumulation_steps }, () =>
        sortBatch(this.data.train, this.data, s.batch_size, this.next),
      );
      const record = this.trainer.step(micro);
      const { params, config } = this.trainer;
      const evaluated = record.iter % s.eval_interval === 0 || record.iter === s.max_iters;
      if (evaluated) {
        Object.assign(record, this.evaluate());
        record.accuracy = heldOutAccuracy(params, config, this.data);
      }
      if (evaluated || record.iter % s.log_interval === 0) {
        record.attention = probeAttention(params, config, this.data.held_out.probe);
      }
      return record;
    }

    /** train.estimate_loss: each split's mean loss over eval_iters batches, drawn by a
        generator seeded with the run's seed (the same batches at every evaluation). */
    evaluate() {
      const s = this.settings;
      const losses = {};
      for (const split of ["train", "val"]) {
        const next = mersenneTwister(s.seed);
        let total = 0;
        for (let i = 0; i < s.eval_iters; i++) {
          total += this.trainer.loss(sortBatch(this.data[split], this.data, s.batch_size, next));
        }
        losses[`${split}_loss`] = total / s.eval_iters;
      }
      return losses;
    }
  }

  // --- reinforcement learning: model_src/rl.py's step ------------------------------------

  /** rl.py's checkers (rl.REWARDS), under the names the build exports: 1 or 0 for an
      answer to a prompt (arrays of letter ids). tests/test_live_rl.py checks each against
      rl.py's on many answers. */
  const REWARDS = new Map([
    // sort_reward: the prompt's letters in sorted order
    [
      "sort",
      (prompt, answer) => {
        const sorted = Array.from(prompt).sort((a, b) => a - b);
        return answer.length === sorted.length && answer.every((id, i) => id === sorted[i]) ? 1 : 0;
      },
    ],
    // order_reward: letters in order, whatever they are
    ["order", (_prompt, answer) => (answer.every((id, i) => !i || id >= answer[i - 1]) ? 1 : 0)],
  ]);

  function checker(name) {
    if (!REWARDS.has(name)) throw new RangeError(`no reward ${name}`);
    return REWARDS.get(name);
  }

  /** rl.advantages: each reward minus its group's mean; with normalise (GRPO) divided by
      the group's standard deviation (torch.std's, over group - 1) plus eps. rewards: the
      groups one after the other. rl.py's rewards are float32 tensors, so each of its
      operations rounds to float32 (its sums accumulate in float64): rounded so here. */
  function advantages(rewards, group, normalise, eps) {
    const f = Math.fround;
    const out = new Float64Array(rewards.length);
    for (let start = 0; start < rewards.length; start += group) {
      const own = rewards.slice(start, start + group);
      const mean = f(own.reduce((a, b) => a + b, 0) / group);
      const spread = f(Math.sqrt(own.reduce((a, r) => a + (r - mean) ** 2, 0) / (group - 1)));
      own.forEach((r, i) => {
        const centred = f(r - mean);
        out[start + i] = normalise ? f(centred / f(spread + f(eps))) : centred;
      });
    }
    return out;
  }

  /** rl.answer_log_probs' input: each prompt followed by its answer, less the last letter
      (x), and the next letters with the prompt's positions unscored (y = -1). */
  function answerRows(prompts, answers) {
    const x = [];
    const y = [];
    answers.forEach((answer, i) => {
      const row = [...prompts[i], ...answer];
      x.push(row.slice(0, -1));
      y.push(row.slice(1).map((id, t) => (t < prompts[i].length - 1 ? -1 : id)));
    });
    return { x, y };
  }

  /** Each row's sum of log p(target) over its scored positions, from a forward pass's
      logits (B·T, V): rl.answer_log_probs. */
  function rowLogProbs(logits, targets, B, T, V) {
    const out = new Float64Array(B);
    for (let n = 0; n < B * T; n++) {
      if (targets[n] === -1) continue;
      const row = logits.subarray(n * V, (n + 1) * V);
      let max = -Infinity;
      for (const v of row) if (v > max) max = v;
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      out[Math.floor(n / T)] += row[targets[n]] - max - Math.log(sum);
    }
    return out;
  }

  /** rl.rl_step after its sampling: rewards of `answers` (group answers to each prompt, in
      prompt order) by the named checker, advantages, loss = -mean(A·log p(answer)), its
      gradient (each answer's cross-entropy gradient weighted by A / count), the
      optimiser's step. options: {group, reward, normalise, eps}. */
  function policyStep(trainer, prompts, answers, { group, reward, normalise, eps }) {
    if (answers.length !== prompts.length * group)
      throw new RangeError("need group answers a prompt");
    const check = checker(reward);
    const repeated = answers.map((_, i) => prompts[Math.floor(i / group)]);
    const rewards = Float64Array.from(answers, (answer, i) => check(repeated[i], answer));
    const advantage = advantages(rewards, group, normalise, eps);
    const { x, y } = answerRows(repeated, answers);
    const ids = flatRows(x, trainer.config, "x", 0);
    const targets = flatRows(y, trainer.config, "y", -1).flat;
    const grads = trainer.zeroGradients();
    const weights = advantage.map((a) => a / answers.length);
    const logProbs = inScratch(() => {
      const tape = {};
      const { params, config } = trainer;
      const options = { targets, tape };
      const { logits } = nanobook._forward(params, config, ids.flat, ids.B, ids.T, options);
      backward(params, grads, config, tape, 1, weights);
      return rowLogProbs(logits, targets, ids.B, ids.T, config.vocab_size);
    });
    const loss = -advantage.reduce((sum, a, i) => sum + a * logProbs[i], 0) / answers.length;
    const { lr } = trainer.update(grads);
    return { iter: trainer.iter, loss, lr, rewards, advantages: advantage, grads };
  }

  /** rl.sample_answers: `group` answers to each prompt, rows of `length` letters drawn one
      at a time at temperature 1, each from the model's softmax by a uniform draw of the
      generator `next` (the first letter whose running sum passes it). */
  function sampleAnswers(trainer, prompts, group, length, next) {
    const { params, config } = trainer;
    const rows = prompts.flatMap((prompt) => Array.from({ length: group }, () => [...prompt]));
    const V = config.vocab_size;
    for (let s = 0; s < length; s++) {
      const T = Math.min(rows[0].length, config.block_size);
      const ids = Int32Array.from(rows.flatMap((row) => row.slice(-T)));
      const lasts = inScratch(() => {
        const { logits } = nanobook._forward(params, config, ids, rows.length, T);
        return rows.map((_, b) => logits.slice(((b + 1) * T - 1) * V, (b + 1) * T * V));
      });
      rows.forEach((row, b) => {
        const last = lasts[b];
        const max = Math.max(...last);
        const weights = Array.from(last, (v) => Math.exp(v - max));
        const u = (next() / 2 ** 32) * weights.reduce((a, w) => a + w, 0);
        let token = 0;
        for (let running = weights[0]; running <= u && token < V - 1; ) running += weights[++token];
        row.push(token); // the last letter if the running sum rounded below u
      });
    }
    return rows.map((row) => row.slice(-length));
  }

  /** rl_runs.exact_pass: with one right answer a prompt, sampled with probability p,
      pass@1 = mean p and pass@k = mean 1 - (1 - p)^k, over the held-out prompts. */
  function exactPass(trainer, prompts, answers, k) {
    const { x, y } = answerRows(prompts, answers);
    const ids = flatRows(x, trainer.config, "x", 0);
    const targets = flatRows(y, trainer.config, "y", -1).flat;
    const { params, config } = trainer;
    const logProbs = inScratch(() => {
      const { logits } = nanobook._forward(params, config, ids.flat, ids.B, ids.T);
      return rowLogProbs(logits, targets, ids.B, ids.T, config.vocab_size);
    });
    const p = Array.from(logProbs, Math.exp);
    const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
    return { pass1: mean(p), passk: mean(p.map((q) => 1 - (1 - q) ** k)) };
  }

  class PolicySession {
    /** rl_runs.train_rl in the page: a Trainer (options as for Session, settings from the
        RL export) and options.rl = the run ({prompts, group, reward, normalise, eps,
        steps, k, eval_every, seed, exact: the checker of the real score}), with
        options.data's prompts ({train, held_out, held_out_answers, answer_len}). The
        prompts are drawn as train_rl draws them (a generator seeded with the seed); the
        answers by a generator of their own. */
    constructor(options) {
      this.trainer = new Trainer(options);
      this.rl = options.rl;
      this.data = options.data;
      this.next = mersenneTwister(this.rl.seed);
      this.sampler = mersenneTwister(this.rl.seed + 1); // its own stream: the prompts stay train_rl's
      this.first = { iter: 0, ...this.evaluate() };
    }

    get done() {
      return this.trainer.iter >= this.rl.steps;
    }

    /** One RL step: prompts, their groups of answers, the update; every eval_every steps
        (and at the end) the held-out pass@1 and pass@k. The record: {iter, reward (the
        chosen checker's mean), sorted (the share of answers that sort their prompt), loss,
        lr}. */
    advance() {
      const { rl, data } = this;
      const prompts = Array.from(
        { length: rl.prompts },
        () => data.train[this.next() % data.train.length],
      );
      const answers = sampleAnswers(this.trainer, prompts, rl.group, data.answer_len, this.sampler);
      const out = this.trainer.policyStep(prompts, answers, rl);
      const exact = checker(rl.exact); // rl_runs' right answers, whatever the reward pays
      const sorted = answers.filter((a, i) => exact(prompts[Math.floor(i / rl.group)], a));
      const mean = out.rewards.reduce((a, b) => a + b, 0) / out.rewards.length;
      const record = { iter: out.iter, reward: mean, sorted: sorted.length / answers.length };
      Object.assign(record, { loss: out.loss, lr: out.lr });
      if (record.iter % rl.eval_every === 0 || this.done) Object.assign(record, this.evaluate());
      return record;
    }

    evaluate() {
      return exactPass(this.trainer, this.data.held_out, this.data.held_out_answers, this.rl.k);
    }
  }

  // The numbers of a record that no later step can recover from once one of them is not
  // finite: the losses, the gradients' norm (null when the run does not clip), the
  // held-out pass rates. A NaN loss means NaN weights, and every step after gives NaN.
  const WATCHED = ["loss", "norm", "train_loss", "val_loss", "pass1", "passk"];

  /** The first watched number of `record` that is NaN or infinite, or undefined. */
  const nonFinite = (record) =>
    WATCHED.find((key) => typeof record[key] === "number" && !Number.isFinite(record[key]));

  /** The run's message handler, the same in a worker and on the page: handle(message)
      for {type: "start", options}, "pause", "resume", "step" (one step while paused),
      "stop" and "weights"; post(message) sends {type: "record", record}, {type: "state",
      state: "running" | "paused" | "done" | "stopped"}, {type: "weights", iter, weights}
      or {type: "error", message}. A record with a number that is not finite (nonFinite)
      is not sent as a record: {type: "diverged", record, key} ends the run, which no
      Resume or Step takes on. One step per task, so messages get in between. */
  function driver(post, schedule = (task) => setTimeout(task, 0)) {
    let session = null;
    let running = false;
    let diverged = false;
    const report = (record) => {
      const key = nonFinite(record);
      if (key === undefined) return post({ type: "record", record });
      running = false;
      diverged = true;
      post({ type: "diverged", record, key });
    };
    const advance = () => {
      report(session.advance());
      if (session.done && !diverged) {
        running = false;
        post({ type: "state", state: "done" });
      }
    };
    const tick = () => {
      if (!running) return;
      advance();
      if (running) schedule(tick);
    };
    const actions = {
      start: ({ options }) => {
        session = options.rl ? new PolicySession(options) : new Session(options);
        running = false;
        diverged = false;
        if (session.first) report(session.first);
        actions.resume();
      },
      pause: () => {
        running = false;
        post({ type: "state", state: "paused" });
      },
      resume: () => {
        if (running || session.done || diverged) return;
        running = true;
        post({ type: "state", state: "running" });
        schedule(tick);
      },
      step: () => {
        if (!running && !session.done && !diverged) advance();
      },
      stop: () => {
        running = false;
        post({ type: "state", state: "stopped" });
      },
      weights: () => {
        const weights = {};
        for (const [name, p] of Object.entries(session.trainer.params)) weights[name] = p.slice();
        post({ type: "weights", iter: session.trainer.iter, weights });
      },
    };
    return (message) => {
      try {
        if (message.type !== "start" && !session) throw new Error("no run started");
        actions[message.type](message);
      } catch (error) {
        running = false;
        post({ type: "error", message: error.message });
      }
    };
  }

  // The worker script sits beside this one: its address, while this script runs.
  const WORKER = globalThis.document?.currentScript?.src
    ? new URL("nanobook_train_worker.js", document.currentScript.src).href
    : null;

  /** Train in a Web Worker, so the page stays responsive; where no worker can start
      (a page opened from file://, where Chromium refuses worker scripts), on the page,
      one step per task. listen(message) hears the driver's messages. Returns {pause,
      resume, step, stop, weights() -> Promise<{iter, weights}>, mode()}. */
  function start(options, listen) {
    const pending = []; // what was sent before the worker said it was ready
    let send = null;
    let mode = "starting";
    const waiters = [];
    const hear = (message) => {
      if (message.type === "weights") waiters.shift()?.(message);
      listen(message);
    };
    const onPage = () => {
      mode = "page";
      const handle = driver((message) => setTimeout(() => hear(message), 0));
      send = handle;
      for (const message of pending.splice(0)) handle(message);
    };
    let worker = null;
    try {
      if (WORKER) worker = new Worker(WORKER);
    } catch {
      worker = null; // file://: SecurityError
    }
    if (worker) {
      worker.onmessage = ({ data }) => {
        if (data.type !== "ready") return hear(data);
        mode = "worker";
        send = (message) => worker.postMessage(message);
        for (const message of pending.splice(0)) send(message);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        if (mode !== "starting") return listen({ type: "error", message: event.message });
        worker.terminate(); // it never started (its script refused): train on the page
        onPage();
      };
    } else {
      onPage();
    }
    const post = (message) => (send ? send(message) : pending.push(message));
    post({ type: "start", options });
    return {
      pause: () => post({ type: "pause" }),
      resume: () => post({ type: "resume" }),
      step: () => post({ type: "step" }),
      stop: () => {
        post({ type: "stop" });
        worker?.terminate();
      },
      weights: () =>
        new Promise((resolve) => {
          waiters.push(resolve);
          post({ type: "weights" });
        }),
      mode: () => mode,
    };
  }

  nanobook.training = {
    trainer: (options) => new Trainer(options),
    session: (options) => new Session(options),
    policySession: (options) => new PolicySession(options),
    start,
    driver,
    heldOutAccuracy,
    _mersenneTwister: mersenneTwister,
    _sortBatch: sortBatch,
    _rewards: (name, prompts, answers) => answers.map((a, i) => checker(name)(prompts[i], a)),
    _advantages: advantages,
  };
})();
