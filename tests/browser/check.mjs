// Browser checks for the rendered seatwatch site.
//
//   node check.mjs SITE_DIR SHOTS_DIR
//
// For each *.html page in SITE_DIR: open it from file:// in Debian's Chromium (headless, through
// playwright-core), fail on any request that is not a file under SITE_DIR (the pages must make no
// outside request), run axe-core (0 violations), open it again with JavaScript disabled (it must
// still show its content), and save a full-page screenshot. Then run the Nu HTML checker on all
// pages in one JVM (0 errors). Prints a summary; exits non-zero on any failure.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const here = dirname(fileURLToPath(import.meta.url));
const [siteArg, shotsArg] = process.argv.slice(2);
if (!siteArg || !shotsArg) {
  console.error("usage: node check.mjs SITE_DIR SHOTS_DIR");
  process.exit(2);
}
const siteDir = realpathSync(resolve(siteArg));
const shotsDir = resolve(shotsArg);
mkdirSync(shotsDir, { recursive: true });
const siteUrl = pathToFileURL(siteDir).href + "/";
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

const failures = [];
const fail = (page, what) => failures.push(`${page}: ${what}`);

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

// Every request leaves through here: file:// under the site is served, everything else is
// blocked and counted as a failure of the page that made it.
async function guard(context, page, blocked) {
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(siteUrl)) {
      return route.continue();
    }
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
}

try {
  for (const name of pages) {
    const url = siteUrl + name;

    // With JavaScript: axe, console errors, screenshot.
    {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const blocked = [];
      await guard(context, name, blocked);
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(url, { waitUntil: "load" });
      // axe itself fetches stylesheets by XHR, which file:// refuses with a console error: only
      // what the page logged before axe ran is the page's own.
      const pageErrors = errors.splice(0);
      const axe = await new AxeBuilder({ page }).analyze();
      for (const v of axe.violations) {
        const where = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ");
        fail(name, `axe ${v.id} (${v.impact}): ${v.help} at ${where}`);
      }
      for (const e of pageErrors) fail(name, `script error: ${e}`);
      // The sorting script turns headers into buttons; check it ran.
      const sortable = await page.locator("table.sortable").count();
      if (sortable > 0 && (await page.locator("table.sortable th button.sort").count()) === 0) {
        fail(name, "sortable table headers did not get their buttons");
      }
      await page.screenshot({ path: join(shotsDir, name.replace(/\.html$/, ".png")), fullPage: true });
      // How it prints: the print style sheet drops navigation and scroll boxes.
      await page.emulateMedia({ media: "print" });
      await page.screenshot({ path: join(shotsDir, name.replace(/\.html$/, "-print.png")), fullPage: true });
      await context.close();
      for (const b of blocked) fail(name, `request outside the site: ${b}`);
      console.log(`${name}: axe ${axe.violations.length} violations, ${axe.passes.length} rules passed, ${blocked.length} outside requests`);
    }

    // Without JavaScript: the content is there all the same.
    {
      const context = await browser.newContext({
        javaScriptEnabled: false,
        viewport: { width: 390, height: 844 },
      });
      const blocked = [];
      await guard(context, name, blocked);
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load" });
      const h1 = (await page.locator("h1").first().textContent()) || "";
      if (!h1.trim()) fail(name, "no heading without JavaScript");
      const svgCount = await page.locator("svg.chart").count();
      const rows = await page.locator("table tbody tr").count();
      await page.screenshot({ path: join(shotsDir, name.replace(/\.html$/, "-nojs-mobile.png")), fullPage: false });
      await context.close();
      for (const b of blocked) fail(name, `request outside the site (JavaScript off): ${b}`);
      console.log(`${name}: without JavaScript "${h1.trim()}", ${svgCount} charts, ${rows} table rows`);
    }
  }
} finally {
  await browser.close();
}

// The Nu HTML checker, one JVM for all pages.
const vnuJar = join(here, "node_modules/vnu-jar/build/dist/vnu.jar");
if (!existsSync(vnuJar)) {
  failures.push(`vnu: ${vnuJar} missing: npm ci in tests/browser`);
} else {
  const vnu = spawnSync(
    "java",
    ["-jar", vnuJar, "--errors-only", "--format", "text", ...pages.map((p) => join(siteDir, p))],
    { encoding: "utf8" },
  );
  if (vnu.error) {
    failures.push(`vnu: could not run java: ${vnu.error.message}`);
  } else if (vnu.status !== 0) {
    const lines = (vnu.stderr + vnu.stdout).trim().split("\n");
    for (const line of lines.slice(0, 50)) failures.push(`vnu: ${line}`);
  } else {
    console.log(`vnu: 0 errors in ${pages.length} pages`);
  }
}

console.log(`screenshots in ${shotsDir}`);
if (failures.length > 0) {
  console.log(`\nFAILED: ${failures.length} problem(s)`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
console.log(`\nOK: ${pages.length} pages, 0 axe violations, 0 outside requests, 0 vnu errors`);
