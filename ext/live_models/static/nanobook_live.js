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
   float32 weights. A model's weights come in a script the build exports
   (_live/<name>-<hash>.js); it is added to the page only when asked for.
*/
(() => {
  "use strict";
  window.nanobook = window.nanobook || {};
  const nanobook = window.nanobook;
  const payloads = {}; // name -> what the exported script registered
  const waiting = {}; // name -> [resolve, reject] of the script being loaded
  const scripts = {}; // name -> Promise of its script having run
  const models = {}; // name -> Promise<Model>

  // --- loading ------------------------------------------------------------------------

  nanobook._register = (payload) => {
    payloads[payload.name] = payload;
    if (waiting[payload.name]) waiting[payload.name][0]();
  };

  // Where the page's widgets say a model's script is (the build writes the URL).
  function sourceOf(name) {
    const holder = document.querySelector(`[data-nanobook-model="${name}"][data-nanobook-src]`);
    return holder?.dataset.nanobookSrc;
  }

  function loadScript(name, src) {
    return new Promise((resolve, reject) => {
      if (!src) {
        reject(new Error(`no script for the ${name} model on this page`));
        return;
      }
      waiting[name] = [resolve, reject];
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
    if (!scripts[name]) {
      scripts[name] = payloads[name] ? Promise.resolve() : loadScript(name, src || sourceOf(name));
      scripts[name].catch(() => delete scripts[name]); // a later call may try again
    }
    return scripts[name].then(() => payloads[name]);
  };

  /** The model `name`, loading its script on first use. `src` overrides the page's URL. */
  nanobook.model = (name, src) => {
    if (!models[name]) {
      models[name] = (async () => {
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
      models[name].catch(() => delete models[name]); // a later call may try again
    }
    return models[name];
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

  function erf(x) {
    const ax = Math.abs(x);
    if (ax >= ERF_MAX) return Math.sign(x);
    const k = Math.round(ax / ERF_STEP);
    const h = ax - k * ERF_STEP;
    const base = k * (ERF_TERMS + 1);
    let sum = erfTable[base + ERF_TERMS];
    for (let n = ERF_TERMS - 1; n >= 1; n--) sum = sum * h + erfTable[base + n];
    return Math.sign(x) * (erfTable[base] + h * sum);
  }
  nanobook._erf = erf;

  // nn.GELU(): the exact form x·Φ(x), not the tanh approximation
  function gelu(x) {
    return 0.5 * x * (1 + erf(x / Math.SQRT2));
  }

  // (T, n_in) @ W(n_out, n_in)^T + b, as nn.Linear stores W: rows are contiguous dot
  // products. Two positions by two outputs at a time, so each number loaded serves two
  // products (about 2.5x faster than one dot product at a time; the sums are the same).
  function linear(x, T, nIn, nOut, weight, bias) {
    const out = new Float64Array(T * nOut);
    for (let t = 0; t < T; t += 2) {
      const pair = t + 1 < T;
      const r0 = t * nIn;
      const r1 = pair ? r0 + nIn : r0; // an odd last position is simply computed twice
      for (let o = 0; o < nOut; o += 2) {
        const both = o + 1 < nOut;
        const w0 = o * nIn;
        const w1 = both ? w0 + nIn : w0;
        let s00 = 0,
          s01 = 0,
          s10 = 0,
          s11 = 0;
        for (let i = 0; i < nIn; i++) {
          const a = x[r0 + i],
            b = x[r1 + i],
            u = weight[w0 + i],
            v = weight[w1 + i];
          s00 += a * u;
          s01 += a * v;
          s10 += b * u;
          s11 += b * v;
        }
        const b0 = bias ? bias[o] : 0;
        const b1 = bias && both ? bias[o + 1] : 0;
        out[t * nOut + o] = b0 + s00;
        if (both) out[t * nOut + o + 1] = b1 + s01;
        if (pair) {
          out[(t + 1) * nOut + o] = b0 + s10;
          if (both) out[(t + 1) * nOut + o + 1] = b1 + s11;
        }
      }
    }
    return out;
  }

  function layerNorm(x, T, C, weight, bias) {
    const out = new Float64Array(T * C);
    for (let t = 0; t < T; t++) {
      const row = t * C;
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x[row + c];
      mean /= C;
      let variance = 0; // biased, as F.layer_norm
      for (let c = 0; c < C; c++) variance += (x[row + c] - mean) ** 2;
      const scale = 1 / Math.sqrt(variance / C + 1e-5);
      for (let c = 0; c < C; c++) {
        out[row + c] = (x[row + c] - mean) * scale * weight[c] + (bias ? bias[c] : 0);
      }
    }
    return out;
  }

  function softmaxInPlace(row) {
    let max = -Infinity;
    for (const v of row) if (v > max) max = v;
    let sum = 0;
    for (let i = 0; i < row.length; i++) {
      row[i] = Math.exp(row[i] - max); // exp(-inf) = 0: masked and filtered entries vanish
      sum += row[i];
    }
    for (let i = 0; i < row.length; i++) row[i] /= sum;
    return row;
  }

  // mulberry32: a small seeded generator of numbers in [0, 1); compute.py has its twin
  function randomNumbers(seed) {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

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
      const { block_size, vocab_size: V, n_layer, n_head: nh, n_embd: C, bias } = this.config;
      const T = ids.length;
      if (T < 1 || T > block_size) throw new RangeError(`need 1 to ${block_size} tokens, got ${T}`);
      for (const id of ids) {
        if (!(Number.isInteger(id) && id >= 0 && id < V))
          throw new RangeError(`token id ${id} out of range`);
      }
      const w = this.w;
      const get = (key) => (bias || !key.endsWith(".bias") ? w[key] : null);
      const hs = C / nh;
      const scale = 1 / Math.sqrt(hs);
      const trace = options.trace ? { layers: [], shapes: {} } : null;
      const shape = (key, dims) => {
        if (trace) trace.shapes[key] = dims;
      };

      // token + position embeddings
      const x = new Float64Array(T * C);
      const wte = w["transformer.wte.weight"];
      const wpe = w["transformer.wpe.weight"];
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < C; c++) x[t * C + c] = wte[ids[t] * C + c] + wpe[t * C + c];
      }
      shape("tok_emb", [1, T, C]);
      shape("pos_emb", [T, C]);
      shape("x", [1, T, C]);

      const attention = [];
      for (let l = 0; l < n_layer; l++) {
        const p = `transformer.h.${l}.`;
        // attention: queries, keys and values of all heads from one matmul
        const h = layerNorm(x, T, C, w[`${p}ln_1.weight`], get(`${p}ln_1.bias`));
        const qkv = linear(
          h,
          T,
          C,
          3 * C,
          w[`${p}attn.c_attn.weight`],
          get(`${p}attn.c_attn.bias`),
        );
        const y = new Float64Array(T * C);
        const heads = [];
        const traced = [];
        for (let head = 0; head < nh; head++) {
          const rows = [];
          const tr = { scores: [], masked: [], softmax: [] };
          for (let t = 0; t < T; t++) {
            const q = t * 3 * C + head * hs;
            const scores = new Float64Array(T);
            // the future's scores are masked away; only a trace shows them, as PyTorch has them
            const seen = trace ? T : t + 1;
            for (let j = 0; j < seen; j++) {
              const k = j * 3 * C + C + head * hs;
              let dot = 0;
              for (let d = 0; d < hs; d++) dot += qkv[q + d] * qkv[k + d];
              scores[j] = dot * scale;
            }
            const row = scores.slice();
            for (let j = t + 1; j < T; j++) row[j] = -Infinity; // hide the future
            if (trace) {
              tr.scores.push(scores);
              tr.masked.push(row.slice());
            }
            softmaxInPlace(row);
            rows.push(row);
            if (trace) tr.softmax.push(row);
            // weighted sum of the values of positions 0..t
            for (let d = 0; d < hs; d++) {
              let sum = 0;
              for (let j = 0; j <= t; j++) sum += row[j] * qkv[j * 3 * C + 2 * C + head * hs + d];
              y[t * C + head * hs + d] = sum;
            }
          }
          heads.push(rows);
          traced.push(tr);
        }
        attention.push(heads);
        const attnOut = linear(
          y,
          T,
          C,
          C,
          w[`${p}attn.c_proj.weight`],
          get(`${p}attn.c_proj.bias`),
        );
        for (let i = 0; i < x.length; i++) x[i] += attnOut[i];

        // MLP: widen 4x, GELU, project back
        const h2 = layerNorm(x, T, C, w[`${p}ln_2.weight`], get(`${p}ln_2.bias`));
        const wide = linear(h2, T, C, 4 * C, w[`${p}mlp.c_fc.weight`], get(`${p}mlp.c_fc.bias`));
        for (let i = 0; i < wide.length; i++) wide[i] = gelu(wide[i]);
        const mlpOut = linear(
          wide,
          T,
          4 * C,
          C,
          w[`${p}mlp.c_proj.weight`],
          get(`${p}mlp.c_proj.bias`),
        );
        for (let i = 0; i < x.length; i++) x[i] += mlpOut[i];
        if (trace) trace.layers.push({ heads: traced });
      }
      if (trace) {
        Object.assign(trace.shapes, {
          "attn.qkv": [1, T, 3 * C],
          "attn.q": [1, nh, T, hs],
          "attn.k": [1, nh, T, hs],
          "attn.v": [1, nh, T, hs],
          "attn.att": [1, nh, T, T],
          "attn.y": [1, T, C],
          "mlp.c_fc": [1, T, 4 * C],
          "mlp.c_proj": [1, T, C],
          logits: [1, T, V],
        });
      }

      const final = layerNorm(x, T, C, w["transformer.ln_f.weight"], get("transformer.ln_f.bias"));
      const flat = linear(final, T, C, V, wte, null); // lm_head is wte (tied)
      const logits = [];
      for (let t = 0; t < T; t++) logits.push(flat.subarray(t * V, (t + 1) * V));
      return trace ? { logits, attention, trace } : { logits, attention };
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
