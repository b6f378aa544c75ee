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
   float32 weights; the products of its linear layers run in a WebAssembly kernel that
   this script assembles, or in plain JavaScript where a page cannot compile it
   (nanobook._kernel, shared with the trainer). It is written
   once, for a batch of sequences (nanobook._forward): Model.forward runs it on one, and
   the trainer (nanobook_train.js, loaded only to train) on a batch, keeping a tape of
   what its backward pass reads. A model's weights come in a script the build exports
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

  // erf within 5e-16 (checked against mpmath): its Taylor series below 1, whose alternating
  // terms cancel ever more beyond; from 1 on, a continued fraction for erfc, which there
  // converges within 200 terms. Slow: it only builds the table below.
  function slowErf(x) {
    const ax = Math.abs(x);
    if (ax < 1) {
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
    for (let n = 200; n >= 1; n--) fraction = ax + n / 2 / fraction;
    const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / fraction;
    return Math.sign(x) * (1 - erfc);
  }
  // Φ, the standard normal distribution function, and its density φ = Φ', from Taylor
  // polynomials around points x0 = k/32 on [-NORMAL_MAX, NORMAL_MAX]. Φ(x0 + h) = Σ c_n h^n
  // with c_0 = Φ(x0) and c_n = φ^(n-1)(x0) / n!, where φ^(m)(x) = (-1)^m He_m(x) φ(x)
  // (He: the probabilists' Hermite polynomials); φ(x0 + h) = Σ (n + 1) c_(n+1) h^n. With
  // |h| ≤ 1/64, eight terms of each leave errors far below 1e-15 (tests/test_live_runtime.py).
  // GELU and its slope then cost a table row and sixteen multiply-adds: in chromium, on
  // 2026-11-29, they took a tenth of a training step, where erf(x/√2) and exp() took a sixth.
  const NORMAL_STEP = 1 / 32;
  const NORMAL_TERMS = 8; // polynomial() sums exactly these eight, in pairs
  const NORMAL_MAX = 8.5; // 1 - Φ(8.5) < 1e-17, 8.5·φ(8.5) < 1e-15
  const NORMAL_POINTS = (2 * NORMAL_MAX) / NORMAL_STEP + 1;
  const ROW = 2 * NORMAL_TERMS; // each point's row: Φ's eight coefficients, then φ's
  const normalTable = (() => {
    const table = new Float64Array(NORMAL_POINTS * ROW);
    for (let k = 0; k < NORMAL_POINTS; k++) {
      const x0 = k * NORMAL_STEP - NORMAL_MAX;
      const row = k * ROW;
      const c = [0.5 * (1 + slowErf(x0 / Math.SQRT2))];
      let hermite = 1; // He_m(x0)
      let previous = 0; // He_(m-1)(x0)
      let factorial = 1; // (m + 1)!
      const density = Math.exp(-0.5 * x0 * x0) / Math.sqrt(2 * Math.PI);
      for (let m = 0; m < NORMAL_TERMS; m++) {
        factorial *= m + 1;
        c.push(((m % 2 ? -1 : 1) * hermite * density) / factorial);
        [previous, hermite] = [hermite, x0 * hermite - m * previous];
      }
      for (let n = 0; n < NORMAL_TERMS; n++) {
        table[row + n] = c[n];
        table[row + NORMAL_TERMS + n] = (n + 1) * c[n + 1];
      }
    }
    return table;
  })();

  // The point nearest x, k as (x/step + 0.5) | 0 (Math.round's number, and in V8 faster:
  // measured), for |x| < NORMAL_MAX (beyond, Φ is 0 or 1 and φ is 0); x's offset h from it.
  const normalPoint = (x) => ((x + NORMAL_MAX) / NORMAL_STEP + 0.5) | 0;
  const normalOffset = (x, k) => x - (k * NORMAL_STEP - NORMAL_MAX);
  // Σ c[at + n] h^n over the eight terms, in pairs (Estrin's scheme: fewer of the
  // multiply-adds wait on the one before)
  function polynomial(at, h) {
    const c = normalTable;
    const h2 = h * h;
    const low = c[at] + h * c[at + 1] + h2 * (c[at + 2] + h * c[at + 3]);
    const high = c[at + 4] + h * c[at + 5] + h2 * (c[at + 6] + h * c[at + 7]);
    return low + h2 * h2 * high;
  }
  // {cdf: Φ(x), density: φ(x)}, for the tests
  nanobook._normal = (x) => {
    if (Math.abs(x) >= NORMAL_MAX) return { cdf: x > 0 ? 1 : 0, density: 0 };
    const k = normalPoint(x);
    const h = normalOffset(x, k);
    return { cdf: polynomial(k * ROW, h), density: polynomial(k * ROW + NORMAL_TERMS, h) };
  };

  // --- the passes' arrays ---------------------------------------------------------------

  // Where the forward and backward passes get new arrays (zeros): fresh ones, or, while
  // the trainer runs a pass whose arrays die with it (a step, an evaluation: see
  // nanobook._inScratch), views into buffers kept from one pass to the next. A fresh
  // array of this size costs far more than filling one with zeros: the browser hands it
  // memory it must first map, page by page.
  let scratch = null;
  const newArray = (n) => (scratch ? scratch.zeros(n) : new Float64Array(n));
  nanobook._newArray = newArray;

  /** Run work() with the passes' arrays taken from `buffers` (nanobook._scratch()), which
      it empties first: nothing work() allocates may outlive it. */
  nanobook._inScratch = (buffers, work) => {
    if (scratch) throw new Error("a step's scratch is already in use");
    buffers.empty();
    scratch = buffers;
    try {
      return work();
    } finally {
      scratch = null;
    }
  };
  nanobook._scratch = () => {
    const chunks = [];
    let chunk = 0;
    let used = 0;
    return {
      empty() {
        chunk = 0;
        used = 0;
      },
      zeros(n) {
        while (chunk < chunks.length && used + n > chunks[chunk].length)
          [chunk, used] = [chunk + 1, 0];
        if (chunk === chunks.length) chunks.push(new Float64Array(Math.max(n, 1 << 20)));
        const array = chunks[chunk].subarray(used, used + n);
        used += n;
        return array.fill(0);
      },
    };
  };

  // nn.GELU() on every entry of `wide`: the exact form x·Φ(x), not the tanh approximation.
  // With a record, its slope Φ(x) + x·φ(x) is kept too, for the backward pass.
  function gelu(wide, record) {
    const act = newArray(wide.length);
    const slope = record ? newArray(wide.length) : null;
    for (let i = 0; i < wide.length; i++) {
      const x = wide[i];
      if (Math.abs(x) >= NORMAL_MAX) {
        act[i] = x > 0 ? x : 0;
        if (slope) slope[i] = x > 0 ? 1 : 0;
        continue;
      }
      const k = normalPoint(x);
      const h = normalOffset(x, k);
      const cdf = polynomial(k * ROW, h);
      act[i] = x * cdf;
      if (slope) slope[i] = cdf + x * polynomial(k * ROW + NORMAL_TERMS, h);
    }
    if (record) record.slope = slope;
    return act;
  }

  // --- the products of linear layers ------------------------------------------------------

  // Every product of a linear layer has one form: out[r, i] (R rows of I) starts from
  // init[r * initRow + i] and adds a[r * aRow + j * aStep] times q[j, i] (J rows of I), one
  // term after another in j's order. Its forward pass has a = x, q = W^T and starts from
  // the bias (initRow = 0); the gradient of its input a = dy, q = W; of its weight a = dy
  // read down its columns, q = x, starting from the gradient so far (init = out).
  //
  // The operands live in one float64 memory, addresses counting float64s: put() copies
  // an array in after the last, products() works there, take() copies a result out, and
  // start() frees it all for the next layer. Two engines keep this memory: WebAssembly,
  // whose SIMD instructions take two float64 lanes at once (on the bench's machine,
  // 2026-11-26: 13.7 G multiply-adds a second against plain JavaScript's 3.1 at best),
  // and plain JavaScript where the browser has no WebAssembly SIMD or the page's policy
  // forbids compiling it. Both add the same terms in the same order: the same sums, bit
  // for bit. The WebAssembly module is assembled below, byte by byte: nothing is fetched.
  function kernelMemory(engine) {
    let top = 0;
    const reserve = (n) => {
      const at = top + (top & 1); // a vector's 16 bytes start on an even float64
      top = at + n;
      engine.fit(top);
      return at;
    };
    const takeInto = (at, array) => {
      array.set(engine.heap().subarray(at, at + array.length));
      return array;
    };
    return {
      engine: engine.name,
      start: () => {
        top = 0;
      },
      reserve,
      put(values) {
        const at = reserve(values.length);
        engine.heap().set(values, at);
        return at;
      },
      // W (rows, columns) as W^T
      putTransposed(values, rows, columns) {
        const at = reserve(rows * columns);
        const heap = engine.heap();
        for (let o = 0; o < rows; o++) {
          for (let k = 0, from = o * columns; k < columns; k++)
            heap[at + k * rows + o] = values[from + k];
        }
        return at;
      },
      zeros(n) {
        const at = reserve(n);
        engine.heap().fill(0, at, at + n);
        return at;
      },
      // into a new array of the passes (Chromium's heap.slice is far slower: measured)
      take: (at, n) => takeInto(at, newArray(n)),
      takeInto,
      products: engine.products,
    };
  }

  // The plain JavaScript engine: its memory a Float64Array, grown by copying. Two rows by
  // four columns at a time, their eight sums kept in registers (each number loaded serves
  // two or four products); columns past the last are read again and not written.
  function engineInJs() {
    let heap = new Float64Array(1 << 16);
    return {
      name: "JavaScript",
      heap: () => heap,
      fit(n) {
        if (n <= heap.length) return;
        const larger = new Float64Array(Math.max(n, 2 * heap.length));
        larger.set(heap);
        heap = larger;
      },
      products(out, init, initRow, a, aRow, aStep, q, R, J, I) {
        tilesInJs(heap, { out, init, initRow, a, aRow, aStep, q, R, J, I }, 0);
      },
    };
  }

  // Every pair of rows (an odd last row is computed twice), columns from `first` on.
  function tilesInJs(heap, { out, init, initRow, a, aRow, aStep, q, R, J, I }, first) {
    for (let r = 0; r < R; r += 2) {
      const rows = { r, r1: Math.min(r + 1, R - 1), out, init, initRow, a, aRow, aStep, q, J, I };
      for (let i = first; i < I; i += 4) tileInJs(heap, rows, i);
    }
  }

  // Rows r and r1 of out, columns i .. i + 3 (those that exist).
  function tileInJs(heap, { r, r1, out, init, initRow, a, aRow, aStep, q, J, I }, i) {
    const i1 = Math.min(i + 1, I - 1);
    const i2 = Math.min(i + 2, I - 1);
    const i3 = Math.min(i + 3, I - 1);
    const n0 = init + r * initRow;
    const n1 = init + r1 * initRow;
    let s00 = heap[n0 + i],
      s01 = heap[n0 + i1],
      s02 = heap[n0 + i2],
      s03 = heap[n0 + i3],
      s10 = heap[n1 + i],
      s11 = heap[n1 + i1],
      s12 = heap[n1 + i2],
      s13 = heap[n1 + i3];
    let pa0 = a + r * aRow;
    let pa1 = a + r1 * aRow;
    for (let j = 0, pq = q; j < J; j++, pa0 += aStep, pa1 += aStep, pq += I) {
      const x = heap[pa0],
        y = heap[pa1],
        u0 = heap[pq + i],
        u1 = heap[pq + i1],
        u2 = heap[pq + i2],
        u3 = heap[pq + i3];
      s00 += x * u0;
      s01 += x * u1;
      s02 += x * u2;
      s03 += x * u3;
      s10 += y * u0;
      s11 += y * u1;
      s12 += y * u2;
      s13 += y * u3;
    }
    storeFour(heap, out + r * I + i, I - i, s00, s01, s02, s03);
    storeFour(heap, out + r1 * I + i, I - i, s10, s11, s12, s13);
  }

  // up to four sums from heap[at], as far as the row goes (`left` columns)
  function storeFour(heap, at, left, s0, s1, s2, s3) {
    heap[at] = s0;
    if (left > 1) heap[at + 1] = s1;
    if (left > 2) heap[at + 2] = s2;
    if (left > 3) heap[at + 3] = s3;
  }

  // The WebAssembly engine; null where the browser has no WebAssembly SIMD, or where the
  // page's Content-Security-Policy forbids compiling it (then validate() passes and the
  // compiling throws). Its kernel takes the columns two at a time: an odd last column is
  // the JavaScript engine's work.
  function engineInWasm() {
    const bytes = productsModule();
    if (typeof WebAssembly !== "object" || !WebAssembly.validate(bytes)) return null;
    let exports;
    try {
      exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
    } catch {
      return null;
    }
    const { products, memory } = exports;
    let heap = new Float64Array(memory.buffer);
    return {
      name: "WebAssembly",
      heap: () => heap,
      fit(n) {
        if (n <= heap.length) return;
        memory.grow(Math.ceil((8 * n - memory.buffer.byteLength) / 65536));
        heap = new Float64Array(memory.buffer); // growing detached the old buffer
      },
      products(out, init, initRow, a, aRow, aStep, q, R, J, I) {
        products(8 * out, 8 * init, 8 * initRow, 8 * a, 8 * aRow, 8 * aStep, 8 * q, R, J, I);
        if (I % 2) tilesInJs(heap, { out, init, initRow, a, aRow, aStep, q, R, J, I }, I - 1);
      },
    };
  }

  // The instructions the kernel uses, each as its bytes in WebAssembly's binary format; a
  // piece of code is a list of them, flattened when the module is put together.
  function uleb(n) {
    const bytes = [n & 0x7f];
    for (let rest = n >>> 7; rest; rest >>>= 7) {
      bytes[bytes.length - 1] |= 0x80;
      bytes.push(rest & 0x7f);
    }
    return bytes;
  }
  const sleb = (n) => (n < 64 ? [n] : [0x80 | (n & 0x7f), n >> 7]); // 0 <= n < 8192 here
  const simd = (code, ...immediates) => [0xfd, ...uleb(code), ...immediates];
  const wasmOp = {
    get: (index) => [0x20, index],
    set: (index) => [0x21, index],
    int: (n) => [0x41, ...sleb(n)],
    add: [0x6a],
    sub: [0x6b],
    mul: [0x6c],
    shl: [0x74],
    eqz: [0x45],
    ltU: [0x49],
    gtU: [0x4b],
    geU: [0x4f],
    select: [0x1b],
    loop: [0x02, 0x40, 0x03, 0x40], // a block around a loop: br 1 leaves it, br 0 goes round
    end: [0x0b, 0x0b],
    br: (depth) => [0x0c, depth],
    brIf: (depth) => [0x0d, depth],
    load: (offset) => simd(0x00, 3, ...uleb(offset)), // v128.load
    store: (offset) => simd(0x0b, 3, ...uleb(offset)), // v128.store
    splat: simd(0x0a, 3, 0), // v128.load64_splat: one float64 into both lanes
    addF: simd(0xf0), // f64x2.add
    mulF: simd(0xf2), // f64x2.mul
  };

  // The kernel's locals, by index: its ten parameters (addresses and strides in bytes,
  // counts in rows and columns), then its own; sum(k) is s0..s3 for the first row of two,
  // s4..s7 for the second.
  // biome-ignore format: the slots in index order, a few to a line
  const slot = {
    out: 0, init: 1, initRow: 2, a: 3, aRow: 4, aStep: 5, q: 6, rows: 7, terms: 8, columns: 9,
    r: 10, i: 11, j: 12, pa0: 13, pa1: 14, pq: 15, o0: 16, o1: 17, rowBytes: 18, a0: 19,
    a1: 20, r1: 21, n0: 22, n1: 23, x: 32, y: 33, u: 34, sum: (k) => 24 + k,
  };

  // Two rows of out, `width` vectors (two columns each) at a time, while they fit the row:
  // load the sums so far, add each term's two products, store them.
  function columnsCode(width) {
    const { get, set, int, add, sub, eqz, gtU, loop, end, br, brIf } = wasmOp;
    const { load, store, splat, addF, mulF } = wasmOp;
    const { i, j, pa0, pa1, pq, o0, o1, n0, n1, a0, a1, x, y, u, sum, rowBytes } = slot;
    const each = (code) => Array.from({ length: width }, (_, k) => code(16 * k, k));
    const addTimes = (s, scalar) => [get(s), get(scalar), get(u), mulF, addF, set(s)];
    return [
      [loop, get(i), int(16 * width), add, get(rowBytes), gtU, brIf(1)],
      each((at, k) => [get(n0), get(i), add, load(at), set(sum(k))]),
      each((at, k) => [get(n1), get(i), add, load(at), set(sum(4 + k))]),
      [get(a0), set(pa0), get(a1), set(pa1), get(slot.q), get(i), add, set(pq)],
      [get(slot.terms), set(j), loop, get(j), eqz, brIf(1)],
      [get(pa0), splat, set(x), get(pa1), splat, set(y)],
      each((at, k) => [get(pq), load(at), set(u), addTimes(sum(k), x), addTimes(sum(4 + k), y)]),
      [get(pa0), get(slot.aStep), add, set(pa0), get(pa1), get(slot.aStep), add, set(pa1)],
      [get(pq), get(rowBytes), add, set(pq), get(j), int(1), sub, set(j), br(0), end],
      each((at, k) => [get(o0), get(i), add, get(sum(k)), store(at)]),
      each((at, k) => [get(o1), get(i), add, get(sum(4 + k)), store(at)]),
      [get(i), int(16 * width), add, set(i), br(0), end],
    ];
  }

  // Rows two at a time (an odd last row is computed twice, to the same sums); in each,
  // columns eight at a time, then two at a time.
  function productsCode() {
    const { get, set, int, add, mul, shl, ltU, geU, select, loop, end, br, brIf } = wasmOp;
    const { r, r1, rows, rowBytes } = slot;
    const start = (base, row, stride, into) => [
      get(base),
      get(row),
      get(stride),
      mul,
      add,
      set(into),
    ];
    return [
      [get(slot.columns), int(3), shl, set(rowBytes)],
      [loop, get(r), get(rows), geU, brIf(1)],
      [get(r), int(1), add, get(r), get(r), int(1), add, get(rows), ltU, select, set(r1)],
      [start(slot.a, r, slot.aRow, slot.a0), start(slot.a, r1, slot.aRow, slot.a1)],
      [start(slot.out, r, rowBytes, slot.o0), start(slot.out, r1, rowBytes, slot.o1)],
      [start(slot.init, r, slot.initRow, slot.n0), start(slot.init, r1, slot.initRow, slot.n1)],
      [int(0), set(slot.i), columnsCode(4), columnsCode(1)],
      [get(r), int(2), add, set(r), br(0), end],
    ];
  }

  // The module: one function, products, and the memory it works in.
  function productsModule() {
    const section = (id, body) => [id, ...uleb(body.length), ...body];
    const name = (text) => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
    const [i32, v128] = [0x7f, 0x7b];
    const body = [2, 14, i32, 11, v128, ...productsCode().flat(Infinity), 0x0b];
    return new Uint8Array([
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      ...section(1, [1, 0x60, 10, ...Array(10).fill(i32), 0]),
      ...section(3, [1, 0]),
      ...section(5, [1, 0x00, 1]),
      ...section(7, [2, ...name("products"), 0, 0, ...name("memory"), 2, 0]),
      ...section(10, [1, ...uleb(body.length), ...body]),
    ]);
  }

  const engines = { WebAssembly: engineInWasm, JavaScript: engineInJs };
  const kernel = kernelMemory(engineInWasm() ?? engineInJs());
  nanobook._kernel = kernel; // the trainer's backward pass works in the same memory
  nanobook._kernelMemory = (name) => {
    const engine = engines[name]();
    if (!engine) throw new Error(`no ${name} engine in this browser`);
    return kernelMemory(engine); // for the tests
  };

  // (T, n_in) @ W(n_out, n_in)^T + b, as nn.Linear stores W (T counts rows: positions of
  // one sequence or of a batch): each output starts from its bias and adds its products.
  function linear(x, T, nIn, nOut, weight, bias) {
    kernel.start();
    const xAt = kernel.put(x);
    const weightAt = kernel.putTransposed(weight, nOut, nIn);
    const init = bias ? kernel.put(bias) : kernel.zeros(nOut);
    const outAt = kernel.reserve(T * nOut);
    kernel.products(outAt, init, 0, xAt, nIn, 1, weightAt, T, nIn, nOut);
    return kernel.take(outAt, T * nOut);
  }

  // model.py's LayerNorm over the N rows of x (N, C), eps added to the variance as the model
  // adds it (the build reads it off the model: config.layer_norm_eps). A record, if given,
  // keeps each row normalised and its 1/σ: what the backward pass (nanobook_train.js)
  // differentiates.
  function layerNorm(x, N, C, weight, bias, eps, record = null) {
    const out = newArray(N * C);
    const normalised = record ? newArray(N * C) : null;
    const inverseStd = record ? newArray(N) : null;
    for (let t = 0; t < N; t++) {
      const row = t * C;
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x[row + c];
      mean /= C;
      let variance = 0; // biased, as F.layer_norm
      for (let c = 0; c < C; c++) variance += (x[row + c] - mean) ** 2;
      const scale = 1 / Math.sqrt(variance / C + eps);
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
    const stride = 3 * C; // from one position's q (k, v) to the next's
    const y = newArray(B * T * C);
    const att = newArray(B * nh * T * T);
    const score = (q, k) => {
      let dot = 0;
      for (let d = 0; d < hs; d++) dot += qkv[q + d] * qkv[k + d];
      return dot * scale;
    };
    for (let b = 0; b < B; b++) {
      for (let head = 0; head < nh; head++) {
        const traced = trace ? { scores: [], masked: [], softmax: [] } : null;
        const queries = b * T * stride + head * hs; // position 0's query, key and value
        const [keys, values] = [queries + C, queries + 2 * C];
        for (let t = 0; t < T; t++) {
          const start = ((b * nh + head) * T + t) * T; // the row's weights: att[start + j]
          const q = queries + t * stride;
          const scoreOf = (j) => score(q, keys + j * stride); // key j's
          for (let j = 0; j <= t; j++) att[start + j] = scoreOf(j);
          if (traced) traceRow(traced, att.subarray(start, start + T), t, scoreOf);
          // the future's weights stay 0: softmax over 0..t alone is the masked softmax
          softmaxAt(att, start, t + 1);
          // weighted sum of the values of positions 0..t
          const out = (b * T + t) * C + head * hs;
          for (let d = 0; d < hs; d++) {
            let sum = 0;
            for (let j = 0, v = values + d; j <= t; j++, v += stride) {
              sum += att[start + j] * qkv[v];
            }
            y[out + d] = sum;
          }
        }
        if (traced) trace.heads.push(traced);
      }
    }
    return { y, att };
  }

  // A traced row t, as PyTorch computes it: every raw score (the future's too), the
  // scores with the future at -inf, and (filled in by the softmax after) the weights.
  function traceRow(traced, row, t, score) {
    traced.scores.push(Float64Array.from(row, (v, j) => (j > t ? score(j) : v)));
    traced.masked.push(Float64Array.from(row, (v, j) => (j > t ? -Infinity : v)));
    traced.softmax.push(row);
  }

  // One Block: x += attn(ln_1(x)); x += mlp(ln_2(x)), on x (B·T, C) in place. Returns the
  // attention weights. A record, if given, keeps every tensor the backward pass reads.
  function block(w, p, config, x, B, T, record, trace) {
    const { n_head: nh, n_embd: C, bias, layer_norm_eps: eps } = config;
    const get = (key) => (bias ? w[key] : null); // biases exist only with config.bias
    const N = B * T;
    const ln1 = record ? {} : null;
    const h = layerNorm(x, N, C, w[`${p}ln_1.weight`], get(`${p}ln_1.bias`), eps, ln1);
    // queries, keys and values of all heads from one matmul
    const qkv = linear(h, N, C, 3 * C, w[`${p}attn.c_attn.weight`], get(`${p}attn.c_attn.bias`));
    const { y, att } = attend(qkv, B, T, C, nh, trace);
    const attnOut = linear(y, N, C, C, w[`${p}attn.c_proj.weight`], get(`${p}attn.c_proj.bias`));
    for (let i = 0; i < x.length; i++) x[i] += attnOut[i];

    // MLP: widen 4x, GELU, project back
    const ln2 = record ? {} : null;
    const h2 = layerNorm(x, N, C, w[`${p}ln_2.weight`], get(`${p}ln_2.bias`), eps, ln2);
    const wide = linear(h2, N, C, 4 * C, w[`${p}mlp.c_fc.weight`], get(`${p}mlp.c_fc.bias`));
    const act = gelu(wide, record);
    const mlpOut = linear(act, N, 4 * C, C, w[`${p}mlp.c_proj.weight`], get(`${p}mlp.c_proj.bias`));
    for (let i = 0; i < x.length; i++) x[i] += mlpOut[i];
    if (record) Object.assign(record, { ln1, qkv, att, y, ln2, act });
    return att;
  }

  // F.cross_entropy(logits, targets, ignore_index=-1): the mean of -log p(target) over the
  // positions whose target is not -1. A tape keeps the softmax rows and the count.
  function crossEntropy(logits, targets, N, V, tape) {
    const probs = tape ? newArray(N * V) : null;
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
    const { vocab_size: V, n_layer, n_embd: C, bias, layer_norm_eps: eps } = config;
    // without it every LayerNorm would quietly give NaN
    if (!(eps >= 0)) throw new TypeError("config.layer_norm_eps: the model came without it");
    const N = B * T;
    // token + position embeddings
    const x = newArray(N * C);
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
    const final = layerNorm(x, N, C, w["transformer.ln_f.weight"], lnfBias, eps, lnf);
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
