// Browser tests of the offline head view (include/mha/viz/head_view_html.hpp), run by ctest:
//
//   node head_view_test.mjs --mha BIN --page-tool BIN --fixture DIR --chromium BIN --out DIR
//
// playwright-core drives Debian's Chromium (never a downloaded browser) with a fresh profile.
// Pages: one written by `mha heads` on the tiny BERT fixture, and synthetic ones from
// mha_head_view_test_page (512 tokens, hostile tokens). Screenshots land in --out.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    mha: { type: "string" },
    "page-tool": { type: "string" },
    fixture: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    out: { type: "string" },
  },
});
for (const name of ["mha", "page-tool", "fixture", "out"])
  if (!args[name]) throw new Error(`missing --${name}`);
mkdirSync(args.out, { recursive: true });

// The tiny fixture's vocabulary has these words; "<script>" becomes "<", "[UNK]", ">".
const SENTENCE = "the man saw the astronaut with a telescope <script>";
const tinyPage = join(args.out, "tiny.html");
const longPage = join(args.out, "long.html");
const hostilePage = join(args.out, "hostile.html");
const demoPage = join(args.out, "demo.html");

let context;
let profile;

before(async () => {
  execFileSync(args.mha, ["heads", "--model", args.fixture, "--text", SENTENCE, "--focus", "man",
    "--color", "never", "--html", tinyPage], { stdio: "pipe" });
  execFileSync(args.mha, ["heads", "--model", "demo", "--text", "the man saw the astronaut with a telescope",
    "--focus", "telescope", "--ablate", "--ablate-examples", "60", "--color", "never", "--html", demoPage],
    { stdio: "pipe" });
  execFileSync(args["page-tool"], [longPage, "512", "2", "4"]);
  execFileSync(args["page-tool"], [hostilePage, "6", "1", "2"]);
  profile = mkdtempSync(join(tmpdir(), "mha-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

// Opens a page file and records every request, dialog, console error and uncaught exception.
async function open(file) {
  const page = await context.newPage();
  const seen = { requests: [], dialogs: [], errors: [] };
  page.on("request", (request) => seen.requests.push(request.url()));
  page.on("dialog", (dialog) => { seen.dialogs.push(dialog.message()); dialog.dismiss(); });
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") seen.errors.push(message.text()); });
  const started = performance.now();
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10000 });
  seen.loadMs = performance.now() - started;
  return { page, seen };
}

const lines = (page) => page.$eval("#links", (c) => Number(c.dataset.lines));
const visibleHeads = (page) => page.$eval("#links", (c) => c.dataset.visibleHeads);
// Waits until the canvas has been redrawn with a line count other than `before`.
const linesChangedFrom = (page, before) =>
  page.waitForFunction((n) => Number(document.querySelector("#links").dataset.lines) !== n, before);

describe("head view of the tiny BERT written by mha heads", () => {
  test("loads with no request but the page itself, and no error", async () => {
    const { page, seen } = await open(tinyPage);
    assert.deepEqual(seen.requests, [pathToFileURL(tinyPage).href]);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.dialogs, []);
    await page.close();
  });

  test("has 2 layers, 4 heads and the sentence's tokens as text", async () => {
    const { page } = await open(tinyPage);
    assert.equal(await page.locator(".swatch").count(), 4);
    assert.equal(await page.locator("#layer-select option").count(), 2);
    assert.equal(await page.$eval("#layer-select", (s) => s.value), "1");  // the last layer
    const queries = await page.locator("#queries li").allTextContents();
    assert.deepEqual(queries, ["[CLS]", "the", "man", "saw", "the", "astronaut", "with", "a",
      "telescope", "<", "[UNK]", ">", "[SEP]"]);
    assert.deepEqual(await page.locator("#keys li").allTextContents(), queries);
    assert.equal(await page.locator("script").count(), 2);  // the data block and the view's script
    await page.close();
  });

  test("opens on the focus token's links, drawn thick, and fills the window", async () => {
    const { page } = await open(tinyPage);
    const canvas = await page.$eval("#links", (c) => ({ ...c.dataset }));
    assert.equal(canvas.focus, "2");  // --focus man
    assert.equal(await page.$eval("#queries li.focused", (li) => li.dataset.index), "2");
    assert.ok(Number(canvas.lines) >= 1 && Number(canvas.lines) <= 4 * 13, `${canvas.lines} lines`);
    assert.ok(Number(canvas.widestLine) > 4, `widest line ${canvas.widestLine} px`);
    // 13 tokens in a 1280 × 900 window: tall rows, a wide link column, a readable font.
    assert.ok(Number(canvas.row) >= 40, `row ${canvas.row} px`);
    assert.ok(Number(canvas.width) >= 700, `link column ${canvas.width} px`);
    const font = await page.$eval("#queries li", (li) => parseFloat(getComputedStyle(li).fontSize));
    assert.ok(font >= 20, `token font ${font} px`);
    assert.ok(await page.isVisible("#clear-focus"));
    await page.screenshot({ path: join(args.out, "focus.png"), fullPage: true });
    await page.close();
  });

  test("toggling heads and hovering tokens change what is drawn", async () => {
    const { page } = await open(tinyPage);
    const focused = await lines(page);
    await page.click("#clear-focus");  // every link of every head
    await page.waitForFunction(() => document.querySelector("#links").dataset.focus === "");
    assert.ok(!(await page.isVisible("#clear-focus")));
    const all = await lines(page);
    assert.ok(all > focused, `${all} lines, ${focused} of the focus`);
    assert.ok(all > 0);
    assert.equal(await visibleHeads(page), "0,1,2,3");

    await page.click(".swatch[data-head='0']");
    await linesChangedFrom(page, all);
    assert.equal(await visibleHeads(page), "1,2,3");
    assert.equal(await page.getAttribute(".swatch[data-head='0']", "aria-pressed"), "false");
    const withoutFirst = await lines(page);
    assert.ok(withoutFirst < all);

    await page.dblclick(".swatch[data-head='2']");
    await page.waitForFunction(() => document.querySelector("#links").dataset.visibleHeads === "2");
    const onlyThird = await lines(page);
    assert.ok(onlyThird < withoutFirst);

    await page.hover("#queries li[data-index='2']");  // "man": only its row of links
    await linesChangedFrom(page, onlyThird);
    const manRow = await lines(page);
    assert.ok(manRow >= 1 && manRow <= 13, `row of one query: ${manRow} lines`);
    await page.hover("#keys li[data-index='0']");  // [CLS] as a key: only its column
    await page.waitForFunction(() => document.querySelector("#keys li.hovered")?.dataset.index === "0");
    await page.mouse.move(1200, 10);  // leave the columns: every link again
    await page.waitForFunction((n) => Number(document.querySelector("#links").dataset.lines) === n, onlyThird);

    await page.selectOption("#layer-select", { value: "0" });
    await page.waitForFunction(() => document.querySelector("#links").dataset.layer === "0");
    await page.close();
  });

  test("the drill-down shows q·k, scaled scores and a softmax that matches the weights", async () => {
    const { page } = await open(tinyPage);
    await page.click("#queries li[data-index='2']");
    await page.waitForSelector("#drill:not([hidden])");
    const rows = await page.$$eval("#drill-rows tr", (trs) => trs.map((tr) => ({
      dot: Number(tr.querySelector(".dot").textContent),
      scaled: Number(tr.querySelector(".scaled").textContent),
      softmax: Number(tr.querySelector(".softmax").textContent),
      stored: Number(tr.querySelector(".stored").textContent),
    })));
    assert.equal(rows.length, 13);
    let total = 0;
    for (const row of rows) {
      for (const value of Object.values(row)) assert.ok(Number.isFinite(value));
      assert.ok(Math.abs(row.scaled - row.dot / Math.sqrt(8)) < 1e-3);  // head size 32 / 4
      assert.ok(Math.abs(row.softmax - row.stored) <= 2e-4, `${row.softmax} vs ${row.stored}`);
      total += row.softmax;
    }
    assert.ok(Math.abs(total - 1) < 2e-3);
    assert.match(await page.textContent("#drill-title"), /query #2 “man”/);
    await page.selectOption("#drill-head", { value: "3" });
    await page.waitForFunction(() => document.querySelector("#drill").dataset.head === "3");
    await page.mouse.move(1200, 10);  // every link of the visible heads, next to the drill-down
    await page.waitForFunction(() => !document.querySelector(".tokens li.hovered"));
    await page.screenshot({ path: join(args.out, "head_view.png"), fullPage: true });
    await page.close();
  });

  test("the model view has one thumbnail per layer and head; a click opens it", async () => {
    const { page } = await open(tinyPage);
    await page.click("#tab-model");
    await page.waitForSelector("#grid[data-complete=true]");
    assert.equal(await page.locator("#grid canvas").count(), 2 * 4);
    await page.screenshot({ path: join(args.out, "model_view.png"), fullPage: true });
    await page.click("#grid canvas[data-layer='0'][data-head='1']");
    await page.waitForSelector("#head-view:not([hidden])");
    await page.waitForFunction(() => {
      const c = document.querySelector("#links").dataset;
      return c.layer === "0" && c.visibleHeads === "1";
    });
    await page.close();
  });
});

describe("head view of the demo model with its ablation", () => {
  test("swatches and thumbnails show what each head carries; the page opens on telescope", async () => {
    const { page, seen } = await open(demoPage);
    assert.deepEqual(seen.errors, []);
    assert.equal(await page.$eval("#links", (c) => c.dataset.focus), "7");
    const marks = await page.locator(".swatch .importance").allTextContents();
    assert.equal(marks.length, 4);
    for (const mark of marks) assert.match(mark, /^[a-z_]+ [+−]\d+\.\d\d$/);
    assert.match(await page.textContent("#importance-note"), /held-out/);
    await page.screenshot({ path: join(args.out, "demo_head_view.png"), fullPage: true });
    await page.click("#tab-model");
    await page.waitForSelector("#grid[data-complete=true]");
    assert.equal(await page.locator("#grid figcaption").count(), 2 * 4);
    await page.screenshot({ path: join(args.out, "demo_model_view.png"), fullPage: true });
    await page.close();
  });
});

describe("synthetic pages", () => {
  test("hostile tokens and title are shown as text and run nothing", async () => {
    const { page, seen } = await open(hostilePage);
    const tokens = await page.locator("#queries li").allTextContents();
    assert.equal(tokens[1], "</script><script>alert(1)</script>");
    assert.equal(tokens[2], "<img src=x onerror=alert(2)>\u2028&amp;");
    assert.match(await page.title(), /^synthetic <\/title><script>alert\('title'\)<\/script> page/);
    assert.equal(await page.locator("script").count(), 2);
    assert.equal(await page.locator("img").count(), 0);
    await page.waitForTimeout(200);
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.requests, [pathToFileURL(hostilePage).href]);
    await page.close();
  });

  test("512 tokens load, draw and answer hovering within a few seconds", async () => {
    const { page, seen } = await open(longPage);
    assert.ok(seen.loadMs < 5000, `loaded and drawn in ${seen.loadMs.toFixed(0)} ms`);
    assert.equal(await page.locator("#queries li").count(), 512);
    const all = await lines(page);
    let started = performance.now();
    await page.hover("#queries li[data-index='5']");
    await linesChangedFrom(page, all);
    const hoverMs = performance.now() - started;
    assert.ok(hoverMs < 2000, `hover redraw took ${hoverMs.toFixed(0)} ms`);
    await page.click("#queries li[data-index='5']");
    assert.equal(await page.locator("#drill-rows tr").count(), 512);
    started = performance.now();
    await page.click("#tab-model");
    await page.waitForSelector("#grid[data-complete=true]", { timeout: 5000 });
    const modelMs = performance.now() - started;
    assert.ok(modelMs < 5000, `model view painted in ${modelMs.toFixed(0)} ms`);
    assert.equal(await page.locator("#grid canvas").count(), 2 * 4);
    assert.deepEqual(seen.errors, []);
    console.log(`512 tokens: load ${seen.loadMs.toFixed(0)} ms, hover ${hoverMs.toFixed(0)} ms, ` +
      `model view ${modelMs.toFixed(0)} ms`);
    await page.close();
  });
});
