
// The head view script (embedded in the page by src/viz/head_view_html.cpp). Rules it keeps:
//   - token text reaches the document only through textContent and the title property, never
//     as parsed markup, so a token that looks like markup is shown as text;
//   - nothing is fetched: no URL appears anywhere in the page (a Content-Security-Policy of
//     default-src 'none', set by head_view_html.cpp, enforces it);
//   - 512 tokens stay responsive. Rasterising long anti-aliased lines is what costs (about
//     35,000 lines over a 9,000-pixel-tall canvas took Chromium's software renderer 13 s), so the
//     canvas only covers the visible part of the token columns and is redrawn on scroll, lines
//     that miss it are skipped, at most MAX_LINES of the strongest are drawn (hovering a token
//     still shows all of its links), lines of one head and opacity level share one path,
//     redraws are coalesced to one per animation frame, and the model view's thumbnails are
//     painted a few per frame;
//   - the drawing fills the window: rows grow with the window's height while the text is short
//     (ROW_MIN … ROW_MAX pixels, the token font with them) and the link column takes the width
//     the token columns and the drill-down leave (WIDTH_MIN … WIDTH_MAX).
"use strict";
(() => {
  // ------------------------------------------------------------------------------------------
  // Data. The JSON block holds the tokens and base64 arrays (see include/mha/viz/head_view_html.hpp):
  //   attention  uint16 LE, round(p · 65535), index ((layer · H + head) · L + query) · L + key
  //   queries, keys (optional)  float32 LE, index ((layer · H + head) · L + position) · D + d
  const data = JSON.parse(document.getElementById("head-view-data").textContent);
  const tokens = data.tokens;
  const L = tokens.length;
  const LAYERS = data.layers;
  const HEADS = data.heads;
  // Optional, per head: Δ[layer][head][relation] (nats the held-out loss rises when the head is
  // removed) and carries[layer][head] (index into relations, null = none).
  const importance = data.importance;

  // atob yields one character per byte.
  function bytesOf(base64) {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }
  // DataView reads little-endian whatever the host's byte order.
  function uint16sOf(base64) {
    const view = new DataView(bytesOf(base64).buffer);
    const out = new Uint16Array(view.byteLength / 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true);
    return out;
  }
  function float32sOf(base64) {
    const view = new DataView(bytesOf(base64).buffer);
    const out = new Float32Array(view.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  const quantized = uint16sOf(data.attention);
  // Offset of row 0 of one head's [L, L] table.
  const tableBase = (layer, head) => (layer * HEADS + head) * L * L;
  const weightAt = (base, i, j) => quantized[base + i * L + j] / 65535;

  const qk = data.queryKey && {
    dim: data.queryKey.headDim,
    scales: data.queryKey.scales,
    queries: float32sOf(data.queryKey.queries),
    keys: float32sOf(data.queryKey.keys),
  };
  // q_h,i · k_h,j for every key j of one head: Σ_d q[i, d] · k[j, d].
  function dotsOf(layer, head, i) {
    const D = qk.dim;
    const base = (layer * HEADS + head) * L * D;
    const out = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      let sum = 0;
      for (let d = 0; d < D; d++) sum += qk.queries[base + i * D + d] * qk.keys[base + j * D + d];
      out[j] = sum;
    }
    return out;
  }
  // softmax_j(s) = exp(s_j − max s) / Σ_k exp(s_k − max s); subtracting the max avoids overflow.
  function softmax(scores) {
    let max = -Infinity;
    for (const s of scores) max = Math.max(max, s);
    const out = scores.map((s) => Math.exp(s - max));
    const total = out.reduce((a, b) => a + b, 0);
    return out.map((e) => e / total);
  }

  // ------------------------------------------------------------------------------------------
  // State: everything the drawing depends on. Changes go through the functions below, which
  // update the controls and schedule a redraw.
  const state = {
    view: "head",
    layer: LAYERS - 1,
    visible: new Array(HEADS).fill(true),
    hover: null,  // {side: "query" | "key", index}
    focus: Number.isInteger(data.focus) ? data.focus : null,  // the selected query token
    drill: null,  // {query, head}
  };

  // One hue per head, evenly spaced around the colour wheel.
  const hueOf = (head) => (360 * head) / HEADS;
  const colorOf = (head) => `hsl(${hueOf(head).toFixed(1)}, 70%, 45%)`;
  // The same colour as [r, g, b] in 0..255 (HSL → RGB, CSS Color 4 §7), for thumbnail pixels.
  function rgbOf(head) {
    const s = 0.7, l = 0.45, a = s * Math.min(l, 1 - l);
    const channel = (n) => {
      const k = (n + hueOf(head) / 30) % 12;
      return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
    };
    return [channel(0), channel(8), channel(4)];
  }

  const byId = (id) => document.getElementById(id);
  const canvas = byId("links");
  const queryList = byId("queries");
  const keyList = byId("keys");
  const layerSelect = byId("layer-select");
  const drillHead = byId("drill-head");
  const grid = byId("grid");
  const clearFocus = byId("clear-focus");

  // ------------------------------------------------------------------------------------------
  // Static parts: title, token columns, swatches, menus.
  document.title = `${data.title} — mha head view`;
  byId("title").textContent = data.title;
  if (importance) byId("importance-note").textContent = importance.note;
  byId("stats").textContent =
    `${L} tokens · ${LAYERS} layers × ${HEADS} heads` +
    (qk ? ` · head size ${qk.dim}` : "") + " · lines below weight 0.01 are not drawn";

  function fillTokens(list, side) {
    const fragment = document.createDocumentFragment();
    tokens.forEach((token, index) => {
      const item = document.createElement("li");
      item.textContent = token;  // text, never markup
      item.title = `#${index} ${token}`;
      item.dataset.index = String(index);
      item.dataset.side = side;
      fragment.append(item);
    });
    list.append(fragment);
  }
  fillTokens(queryList, "query");
  fillTokens(keyList, "key");

  for (let n = 0; n < LAYERS; n++) layerSelect.add(new Option(`layer ${n + 1} of ${LAYERS}`, String(n)));
  for (let h = 0; h < HEADS; h++) drillHead.add(new Option(`${h + 1}`, String(h)));

  // "pp_noun +0.42": the relation a head carries and its Δ, or the largest Δ when it carries none.
  function importanceOf(layer, head) {
    const delta = importance.delta[layer][head];
    const carries = importance.carries[layer][head];
    let top = 0;
    delta.forEach((d, r) => { if (d > delta[top]) top = r; });
    const r = carries === null ? top : carries;
    const sign = delta[r] >= 0 ? "+" : "−";
    return {
      carries,
      label: `${carries === null ? "none" : importance.relations[carries]} ${sign}${Math.abs(delta[r]).toFixed(2)}`,
      detail: importance.relations.map((name, k) => `${name} ${delta[k] >= 0 ? "+" : "−"}${Math.abs(delta[k]).toFixed(3)}`).join(", "),
    };
  }

  const swatches = [];
  for (let h = 0; h < HEADS; h++) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "swatch";
    const number = document.createElement("span");
    number.textContent = String(h + 1);
    button.append(number);
    if (importance) {
      const mark = document.createElement("span");
      mark.className = "importance";
      button.append(mark);
    }
    button.dataset.head = String(h);
    button.style.setProperty("--c", colorOf(h));
    button.addEventListener("click", () => { state.visible[h] = !state.visible[h]; update(); });
    // The two clicks before a dblclick toggle twice (no net change); then show this head alone.
    button.addEventListener("dblclick", () => { state.visible = state.visible.map((_, k) => k === h); update(); });
    byId("swatches").append(button);
    swatches.push(button);
  }

  // ------------------------------------------------------------------------------------------
  // Head view drawing. Row i of either column is centred at (i + ½) · row in the columns; the
  // canvas is as tall as the visible part of the scroller and sticks to its top, so a line from
  // query i to key j is drawn from y(i) to y(j) with y(i) = (i + ½) · row − (canvas offset).
  const ROW_MIN = parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--row")) || 18;
  const ROW_MAX = 64;
  const WIDTH_MIN = 280;
  const WIDTH_MAX = 1100;
  let ROW = ROW_MIN;
  let WIDTH = WIDTH_MIN;
  const MIN_WEIGHT = 0.01;  // lighter lines would be invisible anyway
  const LEVELS = 32;        // opacity levels: lines of one head and level share one path
  const MAX_LINES = 4000;   // beyond this, only the strongest lines in view are drawn
  const scroller = byId("scroller");
  const linkColumn = byId("link-column");
  const links = canvas.getContext("2d");
  let canvasHeight = 0;
  let dpr = 1;

  // Fits the rows and the link column to the window, the scroller to the window and the canvas
  // to the scroller.
  function layout() {
    const top = scroller.getBoundingClientRect().top + window.scrollY;
    const height = Math.max(240, window.innerHeight - top - 16);
    ROW = Math.max(ROW_MIN, Math.min(ROW_MAX, Math.floor(height / L)));
    const root = document.documentElement.style;
    root.setProperty("--row", `${ROW}px`);
    root.setProperty("--token-font", `${Math.max(13, Math.min(26, Math.round(ROW * 0.5)))}px`);
    const drill = byId("drill");
    const besides = queryList.offsetWidth + keyList.offsetWidth + (drill.hidden ? 0 : drill.offsetWidth + 24);
    WIDTH = Math.max(WIDTH_MIN, Math.min(WIDTH_MAX, window.innerWidth - besides - 80));
    linkColumn.style.width = `${WIDTH}px`;
    linkColumn.style.height = `${L * ROW}px`;
    scroller.style.height = `${height}px`;
    drill.style.maxHeight = scroller.style.height;
    canvasHeight = Math.min(L * ROW, scroller.clientHeight);
    dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${WIDTH}px`;
    canvas.style.height = `${canvasHeight}px`;
    canvas.width = Math.round(WIDTH * dpr);
    canvas.height = Math.round(canvasHeight * dpr);
  }

  // The token whose links alone are drawn: the hovered one, else the focus (a query), else none.
  const selected = () => state.hover || (state.focus === null ? null : { side: "query", index: state.focus });

  // Calls visit(head, i, j, level) for every line worth drawing: visible head, weight at least
  // MIN_WEIGHT, crossing the canvas, and, while a token is selected, one of that token's links.
  function forEachLine(offset, visit) {
    const hover = selected();
    const rows = hover && hover.side === "query" ? [hover.index] : null;
    const column = hover && hover.side === "key" ? hover.index : null;
    const y = (i) => (i + 0.5) * ROW - offset;
    for (let h = 0; h < HEADS; h++) {
      if (!state.visible[h]) continue;
      const base = tableBase(state.layer, h);
      const consider = (i, j) => {
        const w = weightAt(base, i, j);
        if (w < MIN_WEIGHT) return;
        const y0 = y(i), y1 = y(j);
        if (Math.max(y0, y1) < 0 || Math.min(y0, y1) > canvasHeight) return;
        visit(h, y0, y1, Math.min(LEVELS - 1, Math.floor(w * LEVELS)));
      };
      if (column !== null) for (let i = 0; i < L; i++) consider(i, column);
      else for (const i of rows || tokens.keys()) for (let j = 0; j < L; j++) consider(i, j);
    }
  }

  function drawLinks() {
    const offset = canvas.getBoundingClientRect().top - linkColumn.getBoundingClientRect().top;
    // Pass 1: lines per opacity level; keep the strongest levels that fit in MAX_LINES.
    const perLevel = new Array(LEVELS).fill(0);
    forEachLine(offset, (h, y0, y1, level) => { perLevel[level]++; });
    const total = perLevel.reduce((a, b) => a + b, 0);
    let lowestLevel = 0, kept = total;
    while (kept > MAX_LINES) kept -= perLevel[lowestLevel++];
    // Pass 2: one path per head and level. One token's links are fanned out by head (a few
    // pixels apart at both ends, within the row) so that heads linking the same pair stay apart.
    const one = selected() !== null;
    const fan = one ? Math.min(6, (0.6 * ROW) / HEADS) : 0;
    const paths = Array.from({ length: HEADS }, () => new Array(LEVELS).fill(null));
    forEachLine(offset, (h, y0, y1, level) => {
      if (level < lowestLevel) return;
      const path = paths[h][level] || (paths[h][level] = new Path2D());
      const dy = (h - (HEADS - 1) / 2) * fan;
      path.moveTo(2, y0 + dy);
      path.lineTo(WIDTH - 2, y1 + dy);
    });
    links.setTransform(dpr, 0, 0, dpr, 0, 0);
    links.clearRect(0, 0, WIDTH, canvasHeight);
    // Every link: 2 px, opacity = the weight. One token's links: few, so they are drawn to be
    // read — width 1.5 … 15.5 px and opacity 0.35 … 1 growing with the weight.
    let widest = 0;
    paths.forEach((byLevel, h) => {
      links.strokeStyle = colorOf(h);
      byLevel.forEach((path, level) => {
        if (!path) return;
        const w = (level + 0.5) / LEVELS;  // the weight, to 1/64
        links.globalAlpha = one ? 0.35 + 0.65 * w : w;
        links.lineWidth = one ? 1.5 + 14 * w : 2;
        widest = Math.max(widest, links.lineWidth);
        links.stroke(path);
      });
    });
    links.globalAlpha = 1;
    byId("line-note").textContent = kept < total
      ? `Showing the ${kept} strongest of ${total} links in view; hover a token to see all of its links.`
      : "";
    // For tests and curious users: what is on the canvas now.
    canvas.dataset.lines = String(kept);
    canvas.dataset.hiddenLines = String(total - kept);
    canvas.dataset.layer = String(state.layer);
    canvas.dataset.focus = state.focus === null ? "" : String(state.focus);
    canvas.dataset.widestLine = widest.toFixed(1);
    canvas.dataset.width = String(WIDTH);
    canvas.dataset.row = String(ROW);
    canvas.dataset.visibleHeads = state.visible.flatMap((on, h) => (on ? [h] : [])).join(",");
  }

  // ------------------------------------------------------------------------------------------
  // Drill-down: one query, one head. score_j = scale · q·k_j, then softmax over the keys.
  function drawDrill() {
    const panel = byId("drill");
    const rowsBody = byId("drill-rows");
    rowsBody.replaceChildren();
    if (!state.drill) { panel.hidden = true; return; }
    panel.hidden = false;
    const { query, head } = state.drill;
    drillHead.value = String(head);
    byId("drill-title").textContent = `query #${query} “${tokens[query]}”, layer ${state.layer + 1}`;
    const base = tableBase(state.layer, head);
    const stored = Array.from({ length: L }, (_, j) => weightAt(base, query, j));
    let dots = null, scaled = null, probabilities = stored;
    if (qk) {
      const scale = qk.scales[state.layer];
      dots = Array.from(dotsOf(state.layer, head, query));
      scaled = dots.map((s) => s * scale);
      probabilities = softmax(scaled);
      byId("drill-formula").textContent =
        `q·k = Σ_d q_d k_d over D = ${qk.dim}; scaled = q·k × ${scale.toPrecision(6)} (1/√D); ` +
        "softmax = exp(scaled − max) / Σ exp(scaled − max); stored = the weight the model produced.";
    } else {
      byId("drill-formula").textContent =
        "This page holds no queries and keys, so only the stored weights are shown.";
    }
    let top = 0;
    probabilities.forEach((p, j) => { if (p > probabilities[top]) top = j; });
    const fragment = document.createDocumentFragment();
    for (let j = 0; j < L; j++) {
      const row = document.createElement("tr");
      if (j === top) row.className = "top";
      const cell = (text, className) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (className) td.className = className;
        row.append(td);
        return td;
      };
      cell(String(j));
      cell(tokens[j], "key").title = tokens[j];
      cell(dots ? dots[j].toFixed(4) : "—", "dot");
      cell(scaled ? scaled[j].toFixed(4) : "—", "scaled");
      const softmaxCell = cell("", "softmax");
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${(probabilities[j] * 60).toFixed(1)}px`;
      softmaxCell.append(bar, probabilities[j].toFixed(4));
      cell(stored[j].toFixed(4), "stored");
      fragment.append(row);
    }
    rowsBody.append(fragment);
    panel.dataset.query = String(query);
    panel.dataset.head = String(head);
  }

  // ------------------------------------------------------------------------------------------
  // Model view: one thumbnail per (layer, head); pixel (x, y) shows the largest weight of the
  // block of queries (rows) and keys (columns) it covers, so a sharp link survives downscaling.
  const THUMB = 64;
  const thumbnails = [];
  let thumbnailsQueued = false;

  function paintThumbnail({ canvas: thumb, layer, head }) {
    const size = thumb.width;
    const block = new Float32Array(size * size);
    const base = tableBase(layer, head);
    if (L >= size) {
      for (let i = 0; i < L; i++) {
        const py = Math.floor((i * size) / L);
        for (let j = 0; j < L; j++) {
          const at = py * size + Math.floor((j * size) / L);
          const w = quantized[base + i * L + j];
          if (w > block[at]) block[at] = w;
        }
      }
    } else {
      for (let py = 0; py < size; py++)
        for (let px = 0; px < size; px++)
          block[py * size + px] = quantized[base + Math.floor((py * L) / size) * L + Math.floor((px * L) / size)];
    }
    const [r, g, b] = rgbOf(head);
    const image = thumb.getContext("2d").createImageData(size, size);
    for (let p = 0; p < block.length; p++) {
      const a = block[p] / 65535;  // white (0) … the head's colour (1)
      image.data[4 * p] = 255 - a * (255 - r);
      image.data[4 * p + 1] = 255 - a * (255 - g);
      image.data[4 * p + 2] = 255 - a * (255 - b);
      image.data[4 * p + 3] = 255;
    }
    thumb.getContext("2d").putImageData(image, 0, 0);
  }

  function buildGrid() {
    grid.style.gridTemplateColumns = `auto repeat(${HEADS}, minmax(${THUMB + 2}px, max-content))`;
    grid.append(document.createElement("span"));
    for (let h = 0; h < HEADS; h++) {
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = `head ${h + 1}`;
      label.style.color = colorOf(h);
      grid.append(label);
    }
    for (let n = 0; n < LAYERS; n++) {
      const label = document.createElement("span");
      label.className = "label layer-label";
      label.dataset.layer = String(n);
      label.textContent = `layer ${n + 1}`;
      grid.append(label);
      for (let h = 0; h < HEADS; h++) {
        const cell = document.createElement("figure");
        cell.className = "thumb";
        const thumb = document.createElement("canvas");
        thumb.width = thumb.height = Math.min(THUMB, Math.max(L, 16));
        thumb.title = `layer ${n + 1}, head ${h + 1}`;
        thumb.dataset.layer = String(n);
        thumb.dataset.head = String(h);
        thumb.addEventListener("click", () => {
          state.layer = n;
          state.visible = state.visible.map((_, k) => k === h);
          state.view = "head";
          if (state.drill) state.drill.head = h;
          update();
        });
        cell.append(thumb);
        if (importance) {
          const { label, detail } = importanceOf(n, h);
          const caption = document.createElement("figcaption");
          caption.className = "importance";
          caption.textContent = label;
          thumb.title += ` — Δ loss: ${detail}`;
          if (importance.carries[n][h] === null) caption.classList.add("none");
          cell.append(caption);
        }
        grid.append(cell);
        thumbnails.push({ canvas: thumb, layer: n, head: h });
      }
    }
  }

  // Paints thumbnails for ~12 ms per animation frame so the page keeps answering input.
  function paintThumbnails() {
    if (thumbnailsQueued) return;
    thumbnailsQueued = true;
    let next = 0;
    const step = () => {
      const start = performance.now();
      while (next < thumbnails.length && performance.now() - start < 12) paintThumbnail(thumbnails[next++]);
      grid.dataset.painted = String(next);
      if (next < thumbnails.length) requestAnimationFrame(step);
      else grid.dataset.complete = "true";
    };
    step();
  }

  // ------------------------------------------------------------------------------------------
  // Controls → state → drawing.
  let framePending = false;
  function scheduleDraw() {
    if (framePending) return;
    framePending = true;
    requestAnimationFrame(() => { framePending = false; drawLinks(); });
  }

  function update() {
    const head = state.view === "head";
    byId("head-view").hidden = !head;
    byId("model-view").hidden = head;
    byId("hint-head").hidden = !head;
    byId("hint-model").hidden = head;
    byId("tab-head").setAttribute("aria-selected", String(head));
    byId("tab-model").setAttribute("aria-selected", String(!head));
    layerSelect.value = String(state.layer);
    swatches.forEach((button, h) => {
      button.setAttribute("aria-pressed", String(state.visible[h]));
      button.title = `head ${h + 1}: click to toggle, double-click to show only this head`;
      if (!importance) return;
      const { carries, label, detail } = importanceOf(state.layer, h);
      const mark = button.querySelector(".importance");
      mark.textContent = label;
      mark.classList.toggle("none", carries === null);
      button.title += ` — Δ loss when removed: ${detail}`;
    });
    clearFocus.hidden = state.focus === null;
    for (const item of queryList.children)
      item.classList.toggle("focused", Number(item.dataset.index) === state.focus);
    for (const label of grid.querySelectorAll(".layer-label"))
      label.classList.toggle("current", label.dataset.layer === String(state.layer));
    if (head) {
      layout();  // the columns may have been hidden since the last layout
      scheduleDraw();
      drawDrill();
    } else paintThumbnails();
  }

  function setHover(hover) {
    for (const item of document.querySelectorAll(".tokens li.hovered")) item.classList.remove("hovered");
    state.hover = hover;
    if (hover) (hover.side === "query" ? queryList : keyList).children[hover.index].classList.add("hovered");
    scheduleDraw();
  }

  const tokenOf = (event) => event.target.closest(".tokens li");
  for (const list of [queryList, keyList]) {
    list.addEventListener("mouseover", (event) => {
      const item = tokenOf(event);
      if (item) setHover({ side: item.dataset.side, index: Number(item.dataset.index) });
    });
  }
  byId("columns").addEventListener("mouseleave", () => setHover(null));
  scroller.addEventListener("scroll", scheduleDraw);
  window.addEventListener("resize", () => { layout(); scheduleDraw(); });
  queryList.addEventListener("click", (event) => {
    const item = tokenOf(event);
    if (!item) return;
    for (const other of queryList.querySelectorAll(".drilled")) other.classList.remove("drilled");
    item.classList.add("drilled");
    const firstVisible = Math.max(0, state.visible.indexOf(true));
    state.focus = Number(item.dataset.index);  // a click selects the token as well
    state.drill = { query: state.focus, head: state.drill ? state.drill.head : firstVisible };
    drawDrill();
    update();  // the drill-down takes width from the link column
  });
  function showAllLinks() { state.focus = null; update(); }
  clearFocus.addEventListener("click", showAllLinks);
  window.addEventListener("keydown", (event) => { if (event.key === "Escape" && state.focus !== null) showAllLinks(); });
  drillHead.addEventListener("change", () => { state.drill.head = Number(drillHead.value); drawDrill(); });
  byId("drill-close").addEventListener("click", () => {
    state.drill = null;
    for (const other of queryList.querySelectorAll(".drilled")) other.classList.remove("drilled");
    drawDrill();
    update();
  });
  layerSelect.addEventListener("change", () => { state.layer = Number(layerSelect.value); update(); });
  byId("tab-head").addEventListener("click", () => { state.view = "head"; update(); });
  byId("tab-model").addEventListener("click", () => { state.view = "model"; update(); });

  buildGrid();
  update();
  drawLinks();  // the first frame now, so that "ready" means drawn
  document.body.dataset.ready = "true";
})();
