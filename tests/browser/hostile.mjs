// Hostile input in a real browser (issue 7 §3).
//
//   node hostile.mjs SITE_DIR SHOTS_DIR [MUST_SHOW_TEXT...]
//
// Opens every *.html page of SITE_DIR in Debian's Chromium (headless, via playwright-core) at a
// desktop and a phone viewport, with JavaScript on, and fails when:
//   - any script from the data ran: a dialog opened (alert/confirm/prompt), the title differs
//     from the file's own <title>, or a payload's marker (window.__seatwatchPwned) is set;
//   - the page body overflows the viewport horizontally, or a table wider than its box is not
//     inside a container that scrolls horizontally and itself fits the viewport;
//   - a MUST_SHOW_TEXT string (the raw payloads) is not shown as text on some page, which would
//     mean it was dropped or parsed instead of escaped.
// Prints one line per page and viewport, then a summary; exits 1 on any failure.

import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { chromium } from "playwright-core";

const [siteArg, shotsArg, ...mustShow] = process.argv.slice(2);
if (!siteArg || !shotsArg) {
  console.error("usage: node hostile.mjs SITE_DIR SHOTS_DIR [MUST_SHOW_TEXT...]");
  process.exit(2);
}
const siteDir = realpathSync(resolve(siteArg));
const shotsDir = resolve(shotsArg);
mkdirSync(shotsDir, { recursive: true });
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(chromiumPath)) {
  console.error(`${chromiumPath} not found: apt-get install -y chromium (or set CHROMIUM)`);
  process.exit(2);
}
const pages = readdirSync(siteDir).filter((f) => f.endsWith(".html")).sort();
if (pages.length === 0) {
  console.error(`no .html pages in ${siteDir}`);
  process.exit(2);
}

const decodeEntities = (s) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&amp;/g, "&");

const viewports = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 390, height: 844 },
];

const failures = [];
const shown = new Set();
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

try {
  for (const vp of viewports) {
    const context = await browser.newContext({
      viewport: { width: vp.width, height: vp.height },
      javaScriptEnabled: true,
    });
    // Anything leaving the site is blocked: a payload must not be able to phone home either.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(pathToFileURL(siteDir).href)) return route.continue();
      failures.push(`${vp.name}: request outside the site: ${url.slice(0, 120)}`);
      return route.abort();
    });
    for (const file of pages) {
      const where = `${file} @${vp.name}`;
      const page = await context.newPage();
      let dialogs = 0;
      page.on("dialog", async (d) => {
        dialogs += 1;
        await d.dismiss().catch(() => {});
      });
      const html = readFileSync(join(siteDir, file), "utf8");
      const titleMatch = html.match(/<title>([\s\S]*?)<\/title>/i);
      const fileTitle = titleMatch ? decodeEntities(titleMatch[1]).trim() : "";

      await page.goto(pathToFileURL(join(siteDir, file)).href, { waitUntil: "load" });
      // Give deferred handlers (onerror of broken images, timers of 0 ms) their turn.
      await page.evaluate(
        () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))),
      );
      const seen = await page.evaluate(() => {
        const vw = document.documentElement.clientWidth;
        const tables = [...document.querySelectorAll("table")].map((t) => {
          let box = t.parentElement;
          while (box && box !== document.body) {
            const ox = getComputedStyle(box).overflowX;
            if (ox === "auto" || ox === "scroll") break;
            box = box.parentElement;
          }
          const scrolls = box && box !== document.body;
          const r = scrolls ? box.getBoundingClientRect() : null;
          return {
            wider: t.scrollWidth > (scrolls ? box.clientWidth : vw) + 1,
            scrolls,
            boxFits: scrolls ? r.left >= -1 && r.right <= vw + 1 : false,
            width: t.scrollWidth,
          };
        });
        return {
          title: document.title,
          pwned: window.__seatwatchPwned ?? null,
          vw,
          docWidth: document.documentElement.scrollWidth,
          bodyWidth: document.body.scrollWidth,
          tables,
          text: document.body.innerText,
          scripts: document.scripts.length,
        };
      });

      const problems = [];
      if (dialogs > 0) problems.push(`${dialogs} dialog(s) opened: a script ran`);
      if (seen.title !== fileTitle)
        problems.push(`title changed from ${JSON.stringify(fileTitle)} to ${JSON.stringify(seen.title)}`);
      if (seen.pwned !== null) problems.push(`payload marker set: ${JSON.stringify(seen.pwned)}`);
      if (seen.docWidth > seen.vw + 1 || seen.bodyWidth > seen.vw + 1)
        problems.push(`page is ${Math.max(seen.docWidth, seen.bodyWidth)}px wide in a ${seen.vw}px viewport`);
      seen.tables.forEach((t, i) => {
        if (t.wider && !t.scrolls) problems.push(`table ${i} (${t.width}px) overflows with no scrolling box`);
        if (t.scrolls && !t.boxFits) problems.push(`table ${i}'s scrolling box does not fit the viewport`);
      });
      for (const s of mustShow) if (seen.text.includes(s)) shown.add(s);

      await page.screenshot({ path: join(shotsDir, `hostile-${vp.name}-${file}.png`) });
      await page.close();
      console.log(
        `${problems.length ? "FAIL" : "ok  "} ${where}: ${seen.tables.length} table(s), ` +
          `page ${seen.docWidth}px / viewport ${seen.vw}px, ${seen.scripts} script element(s)`,
      );
      for (const p of problems) failures.push(`${where}: ${p}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}

for (const s of mustShow) {
  if (!shown.has(s)) failures.push(`never shown as text: ${JSON.stringify(s.slice(0, 60))}`);
}
if (failures.length) {
  console.log(`\n${failures.length} failure(s):`);
  for (const f of failures) console.log(`  ${f}`);
  process.exit(1);
}
console.log(`\nhostile input: ${pages.length} page(s) x ${viewports.length} viewports, no script ran, layout held`);
