// Drives Debian's Chromium with playwright-core for the Rust end-to-end tests and benchmark
// (src/browser.rs): one JSON command per stdin line, one JSON answer per stdout line.
//   {"id":1,"cmd":"open","url":"…","width":1280,"height":720} → {"id":1,"ok":true,"value":<page>}
//   eval {page, js} · goto {page, url} · screenshot {page, path} · click {page, selector}
//   url {page} · stand_in {page, pattern, html}: answers requests matching the glob with a
//   page of our own (for sites this machine cannot reach, such as Stripe's checkout)
//   close {page} · quit
// Each page gets its own browser context: separate viewers, nothing shared.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

// playwright launches with a fresh temporary profile of its own and removes it on close.
const browser = await chromium.launch({
  executablePath: process.env.ONAIR_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const pages = new Map();
let nextPage = 1;

const commands = {
  async open({ url, width = 1280, height = 720, timezone }) {
    // A viewer elsewhere in the world: the page's clock reads in that time zone.
    const context = await browser.newContext(timezone ? { timezoneId: timezone } : {});
    const page = await context.newPage();
    await page.setViewportSize({ width, height });
    const id = nextPage++;
    page.on("console", (m) => process.stderr.write(`[page ${id} ${m.type()}] ${m.text()}\n`));
    page.on("pageerror", (e) => process.stderr.write(`[page ${id} error] ${e.message}\n`));
    pages.set(id, { page, context });
    const response = await page.goto(url, { waitUntil: "domcontentloaded" });
    return { page: id, status: response?.status() ?? 0 };
  },
  async goto({ page, url }) {
    const response = await get(page).page.goto(url, { waitUntil: "domcontentloaded" });
    return { status: response?.status() ?? 0 };
  },
  async eval({ page, js }) {
    return get(page).page.evaluate(js);
  },
  async screenshot({ page, path }) {
    await get(page).page.screenshot({ path });
    return path;
  },
  async click({ page, selector }) {
    await get(page).page.click(selector, { timeout: 10_000 });
    return true;
  },
  async url({ page }) {
    return get(page).page.url();
  },
  async stand_in({ page, pattern, html }) {
    await get(page).context.route(pattern, (route) =>
      route.fulfill({ status: 200, contentType: "text/html", body: html }),
    );
    return true;
  },
  async close({ page }) {
    const p = get(page);
    pages.delete(page);
    await p.page.close();
    await p.context.close();
    return true;
  },
};

function get(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no page ${id}`);
  return p;
}

async function quit() {
  await browser.close().catch(() => {});
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const request = JSON.parse(line);
  if (request.cmd === "quit") return quit();
  try {
    const value = await commands[request.cmd](request);
    process.stdout.write(JSON.stringify({ id: request.id, ok: true, value: value ?? null }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: request.id, ok: false, error: String(err?.message ?? err) }) + "\n");
  }
});
lines.on("close", quit);
process.on("SIGTERM", quit);
process.stdout.write(JSON.stringify({ ready: true, version: browser.version() }) + "\n");
