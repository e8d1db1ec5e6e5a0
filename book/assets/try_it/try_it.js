/* The "Try it" page (book/try_it.md): tag audio in the browser with ONNX Runtime Web, offline.
 *
 * Runs from file:// with no server: the runtime, its WebAssembly and the model are classic scripts
 * written at build time by panns_lite/book/web_demo.py (its docstring says why), loaded on first use.
 * Windowing follows panns_lite.inference.Tagger: 10 s chunks (a last remainder under 1 s joins the
 * chunk before), clip-wise = max over chunks, frame-wise = the chunks' frames concatenated, cropped
 * to the frames centred inside the input. The last result is exposed as window.panns_lite_try_it
 * (scripts/check_book_browser.py compares it with Tagger).
 */
(() => {
  "use strict";
  const TOP_K = 10;
  const PLOT_CLASSES = 5;
  const CHUNK_SECONDS = 10; // Tagger's chunk_seconds
  const MIN_TAIL_SECONDS = 1; // panns_lite.inference.MIN_TAIL_SECONDS
  const MIC_WINDOW_SECONDS = 10;
  const MIC_HOP_SECONDS = 1;
  const MIC_BLOCK = 4096;
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];

  const root = document.getElementById("try-it");
  if (!root) return;
  const folder = root.dataset.assets;
  const element = (name) => root.querySelector(`[data-role="${name}"]`);
  const state = (window.panns_lite_try_it = { last: null, mic: null, error: null, loadMilliseconds: null });

  // ------------------------------------------------------------------------------- assets
  function loadScript(name) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = folder + name;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${script.src} (build the book: make book)`));
      document.head.appendChild(script);
    });
  }

  /** The bytes a web_demo.base64_script file embeds (runtime.js unpacks them). */
  const embedded = (name) => window.panns_lite_assets.embedded(name);

  let runtime = null;
  function loadRuntime() {
    runtime ??= (async () => {
      for (const name of ["ort.wasm.min.js", "ort-glue.js", "ort-wasm.js", "labels.js", "runtime.js"]) {
        await loadScript(name);
      }
      await window.panns_lite_assets.startRuntime();
    })();
    return runtime;
  }

  // ------------------------------------------------------------------------------- models
  /** [{field, begin, end}] of the length-delimited fields of one protobuf message. */
  function protobufFields(bytes, start, end) {
    const fields = [];
    let pos = start;
    const varint = () => {
      let value = 0;
      let scale = 1;
      let byte;
      do {
        if (pos >= end) throw new Error("not an ONNX file (truncated protobuf)");
        byte = bytes[pos++];
        value += (byte & 0x7f) * scale;
        scale *= 128;
      } while (byte & 0x80);
      return value;
    };
    while (pos < end) {
      const key = varint();
      const wire = key % 8;
      if (wire === 0) varint();
      else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        const length = varint();
        fields.push({ field: Math.floor(key / 8), begin: pos, end: pos + length });
        pos += length;
      } else throw new Error(`not an ONNX file (protobuf wire type ${wire})`);
    }
    if (pos !== end) throw new Error("not an ONNX file (truncated protobuf)");
    return fields;
  }

  /** The JSON panns_lite.export writes into ModelProto.metadata_props (field 14) under "panns_lite". */
  function exportMetadata(bytes) {
    const decoder = new TextDecoder();
    const props = {};
    for (const prop of protobufFields(bytes, 0, bytes.length).filter((f) => f.field === 14)) {
      const entry = {};
      for (const f of protobufFields(bytes, prop.begin, prop.end)) {
        entry[f.field] = decoder.decode(bytes.subarray(f.begin, f.end));
      }
      props[entry[1]] = entry[2];
    }
    if (props.panns_lite === undefined) {
      throw new Error(
        "not a panns_lite export (no 'panns_lite' metadata): write it with python -m panns_lite export",
      );
    }
    return JSON.parse(props.panns_lite);
  }

  async function createModel(bytes, name) {
    const meta = exportMetadata(bytes);
    if (meta.mode !== "waveform") {
      throw new Error(`${name} takes ${meta.mode} input; the page needs an export with --mode waveform`);
    }
    await loadRuntime();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const shippedLabels = window.panns_lite_assets.labels;
    const labels =
      meta.classes_num === shippedLabels.length
        ? shippedLabels
        : Array.from({ length: meta.classes_num }, (_, i) => `class_${i}`);
    return { name, meta, session, labels, framewise: meta.outputs.includes("framewise_output") };
  }

  let shipped = null;
  let custom = null;
  function activeModel() {
    if (custom) return Promise.resolve(custom);
    shipped ??= (async () => {
      const start = performance.now();
      await loadRuntime();
      await loadScript("model.js");
      const model = await createModel(await embedded("model.onnx"), "the shipped tagger (float32)");
      state.loadMilliseconds = performance.now() - start;
      return model;
    })();
    return shipped;
  }

  // ---------------------------------------------------------------------------- analysis
  /** One pass of the graph: clip-wise (classes) and frame-wise (frames × classes) probabilities. */
  async function infer(model, samples) {
    const name = model.meta.mode;
    const out = await model.session.run({ [name]: new ort.Tensor("float32", samples, [1, samples.length]) });
    const frames = Math.ceil(samples.length / model.meta.hop_length);
    const classes = model.meta.classes_num;
    const framewise = model.framewise ? out.framewise_output.data.slice(0, frames * classes) : null;
    return { clipwise: out.clipwise_output.data, framewise, frames };
  }

  /** Tagger.chunks: [start, end) of 10 s chunks; a last remainder under 1 s joins the chunk before. */
  function chunkBounds(length, rate, hop) {
    const size = Math.round((CHUNK_SECONDS * rate) / hop) * hop;
    const minTail = Math.round(MIN_TAIL_SECONDS * rate);
    const bounds = [];
    let start = 0;
    for (; length - start >= size + minTail; start += size) bounds.push([start, start + size]);
    bounds.push([start, length]);
    return bounds;
  }

  /** Tagger.analyze: clip-wise = max over chunks, frame-wise = chunks' frames concatenated. */
  async function analyse(model, samples) {
    const { sample_rate: rate, hop_length: hop, classes_num: classes } = model.meta;
    const clipwise = new Float32Array(classes).fill(-Infinity);
    const parts = [];
    const bounds = chunkBounds(samples.length, rate, hop);
    for (const [start, end] of bounds) {
      const out = await infer(model, samples.slice(start, end));
      for (let k = 0; k < classes; k++) clipwise[k] = Math.max(clipwise[k], out.clipwise[k]);
      parts.push(out);
    }
    const frames = parts.reduce((sum, part) => sum + part.frames, 0);
    let framewise = null;
    if (model.framewise) {
      framewise = new Float32Array(frames * classes);
      let offset = 0;
      for (const part of parts) {
        framewise.set(part.framewise, offset);
        offset += part.framewise.length;
      }
    }
    const order = Array.from(clipwise.keys()).sort((a, b) => clipwise[b] - clipwise[a] || a - b);
    const top = order.slice(0, TOP_K);
    return {
      model: model.name,
      duration: samples.length / rate,
      chunks: bounds.length,
      labels: top.map((k) => model.labels[k]),
      probabilities: top.map((k) => clipwise[k]),
      order,
      clipwise,
      framewise,
      frames,
      classes,
      frameHop: hop / rate,
    };
  }

  /** decodeAudioData in an OfflineAudioContext at the model's rate (it resamples), then the channel mean. */
  async function decode(file, rate) {
    const context = new OfflineAudioContext(1, 1, rate);
    const audio = await context.decodeAudioData(await file.arrayBuffer());
    const mono = new Float32Array(audio.length);
    for (let c = 0; c < audio.numberOfChannels; c++) {
      const channel = audio.getChannelData(c);
      for (let i = 0; i < mono.length; i++) mono[i] += channel[i];
    }
    if (audio.numberOfChannels > 1) for (let i = 0; i < mono.length; i++) mono[i] /= audio.numberOfChannels;
    if (!mono.length) throw new Error(`${file.name}: no samples`);
    return mono;
  }

  // --------------------------------------------------------------------------- rendering
  function setStatus(text, isError = false) {
    const status = element("status");
    status.textContent = text;
    status.classList.toggle("try-it-error", isError);
  }

  function fail(error) {
    state.error = String(error && error.message ? error.message : error);
    setStatus(`Error: ${state.error}`, true);
    console.error(error);
  }

  function showTags(result) {
    const list = element("tags");
    list.replaceChildren(
      ...result.labels.map((label, i) => {
        const item = document.createElement("li");
        const bar = document.createElement("span");
        bar.className = "try-it-bar";
        bar.style.width = `${(100 * result.probabilities[i]).toFixed(1)}%`;
        const text = document.createElement("span");
        text.textContent = `${label}: ${result.probabilities[i].toFixed(3)}`;
        item.append(bar, text);
        return item;
      }),
    );
  }

  function plotFramewise(result) {
    const canvas = element("plot");
    const legend = element("legend");
    if (!result.framewise) {
      legend.textContent = "This model has no frame-wise output (export it with --framewise).";
      canvas.hidden = true;
      return;
    }
    canvas.hidden = false;
    const scale = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const g = canvas.getContext("2d");
    g.scale(scale, scale);
    const pad = { left: 40, right: 10, top: 10, bottom: 28 };
    const plotWidth = width - pad.left - pad.right;
    const plotHeight = height - pad.top - pad.bottom;
    const duration = Math.max(result.frames * result.frameHop, result.frameHop);
    const x = (seconds) => pad.left + (plotWidth * seconds) / duration;
    const y = (p) => pad.top + plotHeight * (1 - p);
    const ink = getComputedStyle(canvas).color;
    g.strokeStyle = ink;
    g.fillStyle = ink;
    g.font = "12px sans-serif";
    g.lineWidth = 1;
    g.globalAlpha = 0.3;
    for (const p of [0, 0.5, 1]) {
      g.beginPath();
      g.moveTo(pad.left, y(p));
      g.lineTo(width - pad.right, y(p));
      g.stroke();
    }
    g.globalAlpha = 1;
    g.textAlign = "right";
    for (const p of [0, 0.5, 1]) g.fillText(p.toFixed(1), pad.left - 4, y(p) + 4);
    const step = [0.5, 1, 2, 5, 10, 30, 60, 300, 600].find((s) => duration / s <= 10) || 1200;
    g.textAlign = "center";
    for (let t = 0; t <= duration; t += step) g.fillText(`${t} s`, x(t), height - 8);
    const shown = result.order.slice(0, PLOT_CLASSES);
    g.lineWidth = 1.5;
    shown.forEach((k, i) => {
      g.strokeStyle = COLORS[i];
      g.beginPath();
      for (let f = 0; f < result.frames; f++) {
        const p = result.framewise[f * result.classes + k];
        if (f === 0) g.moveTo(x(f * result.frameHop), y(p));
        else g.lineTo(x(f * result.frameHop), y(p));
      }
      g.stroke();
    });
    legend.replaceChildren(
      ...shown.map((_, i) => {
        const item = document.createElement("span");
        item.style.setProperty("--swatch", COLORS[i]);
        item.textContent = result.labels[i];
        return item;
      }),
    );
  }

  function show(result, where) {
    showTags(result);
    plotFramewise(result);
    setStatus(
      `${where}: ${result.duration.toFixed(2)} s in ${result.chunks} chunk(s), ` +
        `${result.milliseconds.toFixed(0)} ms, with ${result.model} ` +
        `(onnxruntime-web ${ort.env.versions.web}).`,
    );
  }

  // ------------------------------------------------------------------------------ inputs
  let lastFile = null;
  async function tagFile(file) {
    const start = performance.now();
    state.error = null;
    lastFile = file;
    setStatus(`Analysing ${file.name}…`);
    const model = await activeModel();
    const result = await analyse(model, await decode(file, model.meta.sample_rate));
    result.source = file.name;
    result.milliseconds = performance.now() - start;
    state.last = result;
    show(result, file.name);
  }

  async function useModelFile(file) {
    state.error = null;
    setStatus(`Loading ${file.name}…`);
    custom = await createModel(new Uint8Array(await file.arrayBuffer()), file.name);
    const { sample_rate: rate, classes_num: classes } = custom.meta;
    setStatus(`Using ${file.name}: ${rate} Hz, ${classes} classes${custom.framewise ? ", frame-wise" : ""}.`);
    if (lastFile) await tagFile(lastFile);
  }

  function handle(file) {
    const task = file.name.toLowerCase().endsWith(".onnx") ? useModelFile(file) : tagFile(file);
    task.catch(fail);
  }

  // --------------------------------------------------------------------------- microphone
  let mic = null;

  /** Every second, the model's view of the last 10 s (or of all so far): Tagger.stream, live. */
  async function startMic() {
    state.error = null;
    setStatus("Starting the microphone…");
    const model = await activeModel();
    const rate = model.meta.sample_rate;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const context = new AudioContext({ sampleRate: rate }); // the browser resamples the microphone
    const source = context.createMediaStreamSource(stream);
    // Deprecated but everywhere; an AudioWorklet would have to load its module, a fetch file:// forbids.
    const processor = context.createScriptProcessor(MIC_BLOCK, 1, 1);
    const size = Math.round(MIC_WINDOW_SECONDS * rate);
    const hop = Math.round(MIC_HOP_SECONDS * rate);
    const ring = new Float32Array(size);
    let received = 0;
    let nextEnd = hop;
    let busy = false;
    state.mic = { windows: 0, last: null };
    processor.onaudioprocess = (event) => {
      const block = event.inputBuffer.getChannelData(0);
      ring.copyWithin(0, Math.min(block.length, size));
      ring.set(block.subarray(Math.max(0, block.length - size)), Math.max(0, size - block.length));
      received += block.length;
      if (received < nextEnd || busy) return;
      while (nextEnd <= received) nextEnd += hop; // windows missed while busy are skipped
      busy = true;
      const start = performance.now();
      const end = received / rate;
      analyse(model, ring.slice(size - Math.min(received, size)))
        .then((result) => {
          result.source = "microphone";
          result.milliseconds = performance.now() - start;
          state.mic = { windows: state.mic.windows + 1, last: result };
          if (mic) show(result, `Microphone, ${(end - result.duration).toFixed(1)}–${end.toFixed(1)} s`);
        })
        .catch((error) => {
          stopMic();
          fail(error);
        })
        .finally(() => (busy = false));
    };
    source.connect(processor);
    processor.connect(context.destination); // it runs only when connected (and outputs silence)
    if (context.state === "suspended") await context.resume();
    mic = { stream, context, source, processor };
    element("mic").textContent = "Stop the microphone";
    setStatus("Listening: the first result comes after one second.");
  }

  function stopMic() {
    if (!mic) return;
    mic.processor.onaudioprocess = null;
    mic.source.disconnect();
    mic.processor.disconnect();
    mic.stream.getTracks().forEach((track) => track.stop());
    mic.context.close();
    mic = null;
    element("mic").textContent = "Start the microphone";
  }

  // ------------------------------------------------------------------------------- wiring
  const drop = element("drop");
  for (const role of ["audio", "model"]) {
    element(role).addEventListener("change", (event) => {
      if (event.target.files[0]) handle(event.target.files[0]);
    });
  }
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("try-it-over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("try-it-over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("try-it-over");
    if (event.dataTransfer.files[0]) handle(event.dataTransfer.files[0]);
  });
  const micButton = element("mic");
  micButton.addEventListener("click", () => {
    if (mic) return stopMic();
    micButton.disabled = true; // until started: a second click would open a second stream
    startMic()
      .catch(fail)
      .finally(() => (micButton.disabled = false));
  });
  state.stopMic = stopMic;
})();
