/* The book's trained models, run in the reader's browser.

   A plain script (no modules: Chromium refuses module scripts from file://) that
   defines one global, `nanobook`:

     const sort = await nanobook.model("sort");
     sort.forward(ids)                      -> {logits, attention}
     sort.forward(ids, {trace: true})       -> also {trace}: per layer and head the raw
                                               scores, masked and softmax rows; shapes
     sort.encode("CBACAB"), sort.decode(ids), sort.config, sort.vocab
     sort.shown[id]                         -> the token as the book prints it: "↵", "␣", "∎"
     sort.generate(ids, {steps, temperature, topK, topP, seed}) -> {ids, steps: [{probs, token, logits}]}
     sort.sampler(ids, {temperature, topK, topP, seed}).step()  -> one token at a time
     await nanobook.data("sort-replay")    -> a plain exported record (the training replay)
     calculator.tool                        -> a tool model's call syntax and calculator
                                               rules (model_src/engine.py); else null
     finetuned.chat                         -> a fine-tuning run's conversation rules
                                               (model_src/chat.py), as in the model
                                               "finetune-mixture"; else null

   The forward pass is model_src/model.py's GPT, step for step, in float64 over the
   float32 weights. It is written once, for a batch of sequences (nanobook._forward):
   Model.forward runs it on one, and the trainer (nanobook_train.js, loaded only to
   train) on a batch, keeping a tape of what its backward pass reads. A model's weights come in a script the build exports
   (_live/<name>-<hash>.js); it is added to the page only when asked for.
*/
(() => {
  "use strict";
  // globalThis: the same script serves a page (window) and the trainer's worker (self)
  globalThis.nanobook = globalThis.nanobook || {};
  const nanobook = globalThis.nanobook;
  // Maps, not objects: a name like an object's property ("constructor", "__proto__") is
  // unknown like any other, never the prototype's
  const payloads = new Map(); // name -> what the exported script registered
  const waiting = new Map(); // name -> [resolve, reject] of the script being loaded
  const scripts = new Map(); // name -> Promise of its script having run
  const models = new Map(); // name -> Promise<Model>

  // --- loading ------------------------------------------------------------------------

  nanobook._register = (payload) => {
    payloads.set(payload.name, payload);
    waiting.get(payload.name)?.[0]();
  };

  // Where the page's widgets say a model's script is (the build writes the URL).
  function sourceOf(name) {
    const holder = document.querySelector(
      `[data-nanobook-model="${CSS.escape(name)}"][data-nanobook-src]`,
    );
    return holder?.dataset.nanobookSrc;
  }

  function loadScript(name, src) {
    return new Promise((resolve, reject) => {
      if (!src) {
        reject(new Error(`no script for the ${name} model on this page`));
        return;
      }
      waiting.set(name, [resolve, reject]);
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.onerror = () => reject(new Error(`the ${name} model could not be loaded`));
      document.head.appendChild(script);
    });
  }

  async function inflate(base64) {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot unpack the model (it lacks DecompressionStream)");
    }
    const binary = atob(base64);
    const packed = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) packed[i] = binary.charCodeAt(i);
    const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    const planes = new Uint8Array(await new Response(stream).arrayBuffer());
    // the exporter wrote byte k of every float into plane k: put each float back together
    const n = planes.length / 4;
    const bytes = new Uint8Array(planes.length);
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < n; i++) bytes[4 * i + k] = planes[k * n + i];
    }
    return new Float32Array(bytes.buffer); // little-endian, as every browser's platform is
  }

  /** What the script exported as `name` registered, loading it once (several widgets
      may ask for the same script while it loads). */
  nanobook.data = (name, src) => {
    if (!scripts.has(name)) {
      const loaded = payloads.has(name)
        ? Promise.resolve()
        : loadScript(name, src || sourceOf(name));
      scripts.set(name, loaded);
      loaded.catch(() => scripts.delete(name)); // a later call may try again
    }
    return scripts.get(name).then(() => payloads.get(name));
  };

  /** The model `name`, loading its script on first use. `src` overrides the page's URL. */
  nanobook.model = (name, src) => {
    if (!models.has(name)) {
      const made = (async () => {
        const payload = await nanobook.data(name, src);
        const flat = await inflate(payload.weights);
        const weights = {};
        let offset = 0;
        for (const [key, shape] of payload.layout) {
          const size = shape.reduce((a, b) => a * b, 1);
          // float64 once here: the forward pass then never converts in its inner loops
          weights[key] = Float64Array.from(flat.subarray(offset, offset + size));
          offset += size;
        }
        if (offset !== flat.length) throw new Error(`the ${name} model's weights are damaged`);
        return new Model(payload, weights);
      })();
      models.set(name, made);
      made.catch(() => models.delete(name)); // a later call may try again
    }
    return models.get(name);
  };

  // --- arithmetic -----------------------------------------------------------------------

  // erf to about 1e-15: its Taylor series near 0, a continued fraction for erfc beyond.
  // Exact but slow (up to 100 terms): it only builds the table below.
  function slowErf(x) {
    const ax = Math.abs(x);
    if (ax < 2.5) {
      let term = x;
      let sum = x;
      const x2 = x * x;
      for (let n = 1; n < 100; n++) {
        term *= -x2 / n;
        const add = term / (2 * n + 1);
        sum += add;
        if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    }
    if (ax > 6) return Math.sign(x);
    // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom-up
    let fraction = ax;
    for (let n = 60; n >= 1; n--) fraction = ax + n / 2 / fraction;
    const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / fraction;
    return Math.sign(x) * (1 - erfc);
  }
  // erf(x0 + h) = erf(x0) + Σ c_n h^n around points x0 = k/64 on [0, 6], where
  // c_n = (2/√π) e^(-x0²) (-1)^(n-1) H_(n-1)(x0) / n! (H: Hermite polynomials, the
  // derivatives of e^(-x²)). With |h| ≤ 1/128, eight terms leave an error far below
  // 1e-15, and a GELU costs eight multiply-adds instead of dozens of series terms.
  const ERF_STEP = 1 / 64;
  const ERF_TERMS = 8;
  const ERF_MAX = 6; // 1 - erf(6) < 3e-17
  const erfTable = (() => {
    const points = ERF_MAX / ERF_STEP + 1;
    const table = new Float64Array(points * (ERF_TERMS + 1));
    for (let k = 0; k < points; k++) {
      const x0 = k * ERF_STEP;
      const base = k * (ERF_TERMS + 1);
      const scale = (2 / Math.sqrt(Math.PI)) * Math.exp(-x0 * x0);
      table[base] = slowErf(x0);
      let hermite = 1; // H_(n-1)(x0)
      let previous = 0; // H_(n-2)(x0)
      let factorial = 1;
      for (let n = 1; n <= ERF_TERMS; n++) {
        factorial *= n;
        table[base + n] = ((n % 2 ? 1 : -1) * scale * hermite) / factorial;
        [previous, hermite] = [hermite, 2 * x0 * hermite - 2 * (n - 1) * previous];
      }
    }
    return table;
  })();

  // The nearest point as (ax/step + 0.5) | 0 and the sign by a comparison: the same
  // numbers as Math.round and Math.sign, and in V8 a GELU twice as fast (measured).
  function erf(x) {
    const ax = Math.abs(x);
    if (ax >= ERF_MAX) return Math.sign(x);
    const k = (ax / ERF_STEP + 0.5) | 0;
    const h = ax - k * ERF_STEP;
    const base = k * (ERF_TERMS + 1);
    let sum = erfTable[base + ERF_TERMS];
    for (let n = ERF_TERMS - 1; n >= 1; n--) sum = sum * h + erfTable[base + n];
    const value = erfTable[base] + h * sum;
    return x < 0 ? -value : value;
  }
  nanobook._erf = erf;

  // nn.GELU() on every entry of `wide`: the exact form x·Φ(x), not the tanh approximation.
  // With a record, Φ(x) is kept: the backward pass's slope Φ(x) + x·φ(x) reuses it.
  function gelu(wide, record) {
    const act = new Float64Array(wide.length);
    const cdf = record ? new Float64Array(wide.length) : null;
    for (let i = 0; i < wide.length; i++) {
      const x = wide[i];
      const phi = 0.5 * (1 + erf(x / Math.SQRT2));
      if (cdf) cdf[i] = phi;
      act[i] = x * phi;
    }
    if (record) record.cdf = cdf;
    return act;
  }

  // (T, n_in) @ W(n_out, n_in)^T + b, as nn.Linear stores W: rows are contiguous dot
  // products (T counts rows: positions of one sequence or of a batch). Two positions by
  // four outputs at a time: each number loaded serves two or four products, and the eight
  // sums stay in registers (1.5x faster than two by two, which was 2.5x faster than one
  // dot product at a time). Each sum still runs over i in order: the same sums, bit for bit.
  function linear(x, T, nIn, nOut, weight, bias) {
    const out = new Float64Array(T * nOut);
    const lastRow = (nOut - 1) * nIn;
    for (let t = 0; t < T; t += 2) {
      const pair = t + 1 < T;
      const r0 = t * nIn;
      const r1 = pair ? r0 + nIn : r0; // an odd last position is simply computed twice
      for (let o = 0; o < nOut; o += 4) {
        // outputs past the last one read its row again; their sums are not written
        const w0 = o * nIn;
        const w1 = Math.min(w0 + nIn, lastRow);
        const w2 = Math.min(w0 + 2 * nIn, lastRow);
        const w3 = Math.min(w0 + 3 * nIn, lastRow);
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0,
          s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0;
        for (let i = 0; i < nIn; i++) {
          const a = x[r0 + i],
            b = x[r1 + i],
            u0 = weight[w0 + i],
            u1 = weight[w1 + i],
            u2 = weight[w2 + i],
            u3 = weight[w3 + i];
          s00 += a * u0;
          s01 += a * u1;
          s02 += a * u2;
          s03 += a * u3;
          s10 += b * u0;
          s11 += b * u1;
          s12 += b * u2;
          s13 += b * u3;
        }
        const left = nOut - o;
        storeFour(out, t * nOut + o, left, bias, o, s00, s01, s02, s03);
        if (pair) storeFour(out, (t + 1) * nOut + o, left, bias, o, s10, s11, s12, s13);
      }
    }
    return out;
  }

  // up to four sums of one output row from out[at], each after its bias (if any), as far
  // as the row goes (`left` outputs)
  function storeFour(out, at, left, bias, o, s0, s1, s2, s3) {
    out[at] = (bias ? bias[o] : 0) + s0;
    if (left > 1) out[at + 1] = (bias ? bias[o + 1] : 0) + s1;
    if (left > 2) out[at + 2] = (bias ? bias[o + 2] : 0) + s2;
    if (left > 3) out[at + 3] = (bias ? bias[o + 3] : 0) + s3;
  }

  // model.py's LayerNorm over the N rows of x (N, C). A record, if given, keeps each row
  // normalised and its 1/σ: what the backward pass (nanobook_train.js) differentiates.
  function layerNorm(x, N, C, weight, bias, record = null) {
    const out = new Float64Array(N * C);
    const normalised = record ? new Float64Array(N * C) : null;
    const inverseStd = record ? new Float64Array(N) : null;
    for (let t = 0; t < N; t++) {
      const row = t * C;
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x[row + c];
      mean /= C;
      let variance = 0; // biased, as F.layer_norm
      for (let c = 0; c < C; c++) variance += (x[row + c] - mean) ** 2;
      const scale = 1 / Math.sqrt(variance / C + 1e-5);
      if (inverseStd) inverseStd[t] = scale;
      for (let c = 0; c < C; c++) {
        const n = (x[row + c] - mean) * scale;
        if (normalised) normalised[row + c] = n;
        out[row + c] = n * weight[c] + (bias ? bias[c] : 0);
      }
    }
    if (record) Object.assign(record, { normalised, inverseStd, out });
    return out;
  }

  function softmaxInPlace(row) {
    softmaxAt(row, 0, row.length);
    return row;
  }

  // softmax over values[start, start + length), in place
  function softmaxAt(values, start, length) {
    const end = start + length;
    let max = -Infinity;
    for (let i = start; i < end; i++) if (values[i] > max) max = values[i];
    let sum = 0;
    for (let i = start; i < end; i++) {
      values[i] = Math.exp(values[i] - max); // exp(-inf) = 0: masked and filtered entries vanish
      sum += values[i];
    }
    for (let i = start; i < end; i++) values[i] /= sum;
  }

  // mulberry32: a small seeded generator of numbers in [0, 1); kinds/sampling.py has its twin
  function randomNumbers(seed) {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  // --- the forward pass: model.py's GPT, for inference and for training ------------------

  // Causal self-attention of B sequences of T positions: qkv (B·T, 3C), the queries, keys
  // and values of all heads side by side, -> y (B·T, C) and the weights att (B, nh, T, T),
  // 0 above the diagonal. A trace (B = 1) also keeps, per head, each row's raw scores
  // (the future's too, as PyTorch computes them) and the scores after the mask.
  function attend(qkv, B, T, C, nh, trace = null) {
    const hs = C / nh;
    const scale = 1 / Math.sqrt(hs);
    const y = new Float64Array(B * T * C);
    const att = new Float64Array(B * nh * T * T);
    const score = (b, t, j, head) => {
      const q = (b * T + t) * 3 * C + head * hs;
      const k = (b * T + j) * 3 * C + C + head * hs;
      let dot = 0;
      for (let d = 0; d < hs; d++) dot += qkv[q + d] * qkv[k + d];
      return dot * scale;
    };
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < nh; head++) {
        const traced = trace ? { scores: [], masked: [], softmax: [] } : null;
        for (let t = 0; t < T; t++) {
          const start = ((b * nh + head) * T + t) * T; // the row's weights: att[start + j]
          for (let j = 0; j <= t; j++) att[start + j] = score(b, t, j, head);
          for (let j = t + 1; j < T; j++) att[start + j] = -Infinity; // hide the future
          if (traced) {
            const row = att.subarray(start, start + T);
            const scores = Float64Array.from(row, (v, j) => (j > t ? score(b, t, j, head) : v));
            traced.scores.push(scores);
            traced.masked.push(row.slice());
            traced.softmax.push(row);
          }
          softmaxAt(att, start, T);
          // weighted sum of the values of positions 0..t
          const out = (b * T + t) * C + head * hs;
          const values = b * T * 3 * C + 2 * C + head * hs; // position 0's, then 3C apart
          for (let d = 0; d < hs; d++) {
            let sum = 0;
            for (let j = 0; j <= t; j++) sum += att[start + j] * qkv[values + j * 3 * C + d];
            y[out + d] = sum;
          }
        }
        if (traced) trace.heads.push(traced);
      }
    }
    return { y, att };
  }

  // One Block: x += attn(ln_1(x)); x += mlp(ln_2(x)), on x (B·T, C) in place. Returns the
  // attention weights. A record, if given, keeps every tensor the backward pass reads.
  function block(w, p, config, x, B, T, record, trace) {
    const { n_head: nh, n_embd: C, bias } = config;
    const get = (key) => (bias ? w[key] : null); // biases exist only with config.bias
    const N = B * T;
    const ln1 = record ? {} : null;
    const h = layerNorm(x, N, C, w[`${p}ln_1.weight`], get(`${p}ln_1.bias`), ln1);
    // queries, keys and values of all heads from one matmul
    const qkv = linear(h, N, C, 3 * C, w[`${p}attn.c_attn.weight`], get(`${p}attn.c_attn.bias`));
    const { y, att } = attend(qkv, B, T, C, nh, trace);
    const attnOut = linear(y, N, C, C, w[`${p}attn.c_proj.weight`], get(`${p}attn.c_proj.bias`));
    for (let i = 0; i < x.length; i++) x[i] += attnOut[i];

    // MLP: widen 4x, GELU, project back
    const ln2 = record ? {} : null;
    const h2 = layerNorm(x, N, C, w[`${p}ln_2.weight`], get(`${p}ln_2.bias`), ln2);
    const wide = linear(h2, N, C, 4 * C, w[`${p}mlp.c_fc.weight`], get(`${p}mlp.c_fc.bias`));
    const act = gelu(wide, record);
    const mlpOut = linear(act, N, 4 * C, C, w[`${p}mlp.c_proj.weight`], get(`${p}mlp.c_proj.bias`));
    for (let i = 0; i < x.length; i++) x[i] += mlpOut[i];
    if (record) Object.assign(record, { ln1, qkv, att, y, ln2, wide, act });
    return att;
  }

  // F.cross_entropy(logits, targets, ignore_index=-1): the mean of -log p(target) over the
  // positions whose target is not -1. A tape keeps the softmax rows and the count.
  function crossEntropy(logits, targets, N, V, tape) {
    const probs = tape ? new Float64Array(N * V) : null;
    let total = 0;
    let count = 0;
    for (let n = 0; n < N; n++) {
      const row = logits.subarray(n * V, (n + 1) * V);
      const target = targets[n];
      if (target === -1 && !probs) continue;
      let max = -Infinity;
      for (const v of row) if (v > max) max = v;
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      if (probs) for (let v = 0; v < V; v++) probs[n * V + v] = Math.exp(row[v] - max) / sum;
      if (target === -1) continue;
      total += max + Math.log(sum) - row[target];
      count++;
    }
    if (tape) Object.assign(tape, { probs, targets, count });
    return total / count; // NaN when nothing is scored, as PyTorch
  }

  /** model.py's GPT.forward over B sequences of T tokens, ids (B·T) one sequence after
      another: {logits (B·T, V), attention: per layer (B, nh, T, T)}, and with targets
      (B·T, -1 for a position not scored) the loss. A tape, if given, keeps what the
      backward pass (nanobook_train.js) reads; a trace (B = 1) each head's scores. */
  function gptForward(w, config, ids, B, T, { targets = null, tape = null, trace = null } = {}) {
    const { vocab_size: V, n_layer, n_embd: C, bias } = config;
    const N = B * T;
    // token + position embeddings
    const x = new Float64Array(N * C);
    const wte = w["transformer.wte.weight"];
    const wpe = w["transformer.wpe.weight"];
    for (let n = 0; n < N; n++) {
      const token = ids[n] * C;
      const position = (n % T) * C;
      for (let c = 0; c < C; c++) x[n * C + c] = wte[token + c] + wpe[position + c];
    }
    if (tape) Object.assign(tape, { ids, B, T, layers: [] });
    const attention = [];
    for (let l = 0; l < n_layer; l++) {
      const record = tape ? {} : null;
      const traced = trace ? { heads: [] } : null;
      attention.push(block(w, `transformer.h.${l}.`, config, x, B, T, record, traced));
      if (tape) tape.layers.push(record);
      if (trace) trace.layers.push(traced);
    }
    const lnf = tape ? {} : null;
    const lnfBias = bias ? w["transformer.ln_f.bias"] : null;
    const final = layerNorm(x, N, C, w["transformer.ln_f.weight"], lnfBias, lnf);
    if (tape) tape.lnf = lnf;
    const logits = linear(final, N, C, V, wte, null); // lm_head is wte (tied)
    const loss = targets ? crossEntropy(logits, targets, N, V, tape) : null;
    return { logits, attention, loss };
  }
  nanobook._forward = gptForward;

  // --- the model ------------------------------------------------------------------------

  class Model {
    constructor(payload, weights) {
      this.name = payload.name;
      this.config = Object.freeze({ ...payload.config });
      this.vocab = payload.vocab.slice(); // id -> character
      this.shown = payload.shown.slice(); // id -> the token as the book prints it (model_src/visible.py)
      this.task = payload.task;
      this.tool = payload.tool ? Object.freeze({ ...payload.tool }) : null; // a tool model's call syntax and rules
      this.chat = payload.chat || null; // a chat model's roles, mask, stop token and right replies
      this.w = weights;
      this.stoi = new Map(this.vocab.map((ch, i) => [ch, i]));
    }

    /** Token ids of `text`; throws with the characters outside the vocabulary. */
    encode(text) {
      const unknown = [...new Set([...text].filter((ch) => !this.stoi.has(ch)))];
      if (unknown.length) {
        const error = new Error(
          `not in the vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(", ")}`,
        );
        error.unknown = unknown;
        throw error;
      }
      return [...text].map((ch) => this.stoi.get(ch));
    }

    decode(ids) {
      return ids.map((i) => this.vocab[i]).join("");
    }

    /** Logits at every position (T rows of vocab_size) and attention[layer][head][t] rows.
        With {trace: true}, also trace.layers[l].heads[h] = {scores, masked, softmax}
        (each T rows of T: q·k/√hs, then the causal mask's -Infinity, then the weights)
        and trace.shapes: the shape of each named tensor, keyed like "attn.q". */
    forward(ids, options = {}) {
      const { block_size, vocab_size: V, n_head: nh, n_embd: C } = this.config;
      const T = ids.length;
      if (T < 1 || T > block_size) throw new RangeError(`need 1 to ${block_size} tokens, got ${T}`);
      for (const id of ids) {
        if (!(Number.isInteger(id) && id >= 0 && id < V))
          throw new RangeError(`token id ${id} out of range`);
      }
      const trace = options.trace ? { layers: [], shapes: {} } : null;
      const out = gptForward(this.w, this.config, ids, 1, T, { trace });
      const rows = (flat, size) =>
        Array.from({ length: flat.length / size }, (_, i) =>
          flat.subarray(i * size, (i + 1) * size),
        );
      const logits = rows(out.logits, V);
      // per layer, per head, T rows of T weights
      const attention = out.attention.map((att) => rows(att, T * T).map((head) => rows(head, T)));
      if (!trace) return { logits, attention };
      const hs = C / nh;
      trace.shapes = {
        tok_emb: [1, T, C],
        pos_emb: [T, C],
        x: [1, T, C],
        "attn.qkv": [1, T, 3 * C],
        "attn.q": [1, nh, T, hs],
        "attn.k": [1, nh, T, hs],
        "attn.v": [1, nh, T, hs],
        "attn.att": [1, nh, T, T],
        "attn.y": [1, T, C],
        "mlp.c_fc": [1, T, 4 * C],
        "mlp.c_proj": [1, T, C],
        logits: [1, T, V],
      };
      return { logits, attention, trace };
    }

    /** Next-token probabilities from one logits row, as model.generate makes them. */
    probabilities(logits, { temperature = 1, topK = null, topP = null } = {}) {
      if (!(temperature > 0)) throw new RangeError("temperature must be above 0");
      const scaled = Float64Array.from(logits, (v) => v / temperature);
      if (topK !== null && topK !== undefined) {
        const kth = [...scaled].sort((a, b) => b - a)[Math.min(topK, scaled.length) - 1];
        for (let i = 0; i < scaled.length; i++) if (scaled[i] < kth) scaled[i] = -Infinity;
      }
      if (topP !== null && topP !== undefined) {
        // model.top_p_logits: keep the likeliest until their probabilities sum to topP
        const probs = softmaxInPlace(Float64Array.from(scaled));
        const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b);
        let before = 0; // the mass of the tokens ranked above this one
        order.forEach((i, rank) => {
          if (rank > 0 && before >= topP) scaled[i] = -Infinity; // the likeliest always stays
          before += probs[i];
        });
      }
      return softmaxInPlace(scaled);
    }

    /** A seeded sampler that extends `ids` one token per step(): {probs, token, logits},
        where probs is the distribution the token was drawn from and logits the scores it
        was made from. Same seed, same tokens. */
    sampler(ids, { temperature = 1, topK = null, topP = null, seed = 0 } = {}) {
      const random = randomNumbers(seed);
      const out = ids.slice();
      const step = () => {
        const context = out.slice(-this.config.block_size); // the model sees block_size tokens
        const { logits } = this.forward(context);
        const last = logits[logits.length - 1];
        const probs = this.probabilities(last, { temperature, topK, topP });
        const u = random();
        let token = -1;
        let cumulative = 0;
        for (let i = 0; i < probs.length && token < 0; i++) {
          cumulative += probs[i];
          if (u < cumulative) token = i;
        }
        if (token < 0) token = probs.findLastIndex((p) => p > 0); // the sum rounded below u
        out.push(token);
        return { probs, token, logits: last };
      };
      return { ids: out, step };
    }

    /** Extend `ids` by `steps` tokens: {ids, steps: [{probs, token, logits}, ...]}. */
    generate(ids, { steps = 1, ...options } = {}) {
      const sampler = this.sampler(ids, options);
      const record = [];
      for (let s = 0; s < steps; s++) record.push(sampler.step());
      return { ids: sampler.ids, steps: record };
    }
  }
  nanobook.Model = Model;
})();
