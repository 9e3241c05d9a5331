// scripts/browser-check.cjs: opens an `inspect --html` page in headless
// Chromium (playwright-core driving the system's Chromium) and fails on
// anything a user would see go wrong. Run by scripts/test.sh (step
// browser):
//
//   node scripts/browser-check.cjs PLAYWRIGHT_CORE_DIR CHROMIUM PAGE.html SHOT.png STEPS
//   node scripts/browser-check.cjs PLAYWRIGHT_CORE_DIR CHROMIUM DIFF.html SHOT.png CLASSES diff
//
// The second form checks a `diff --html` page: CLASSES side-by-side bar
// groups in its first chart (#diff-chart-0), a changes table per step
// kind, the text report, and the same network, console and pixel checks.
//
// Fails (exit 1) on: any console error or warning, any page error, any
// request that is not the file itself (the page must be self-contained),
// a chart with other than STEPS bars or a steps table with other than
// STEPS rows, missing sections, or a screenshot of the chart that is
// (nearly) blank or shows fewer than two of its legend's colors.
'use strict';

const path = require('path');
const fs = require('fs');

async function main() {
  const [pwDir, chromiumPath, page, shot, stepsArg, mode] = process.argv.slice(2);
  const diff = mode === 'diff';
  const chartSel = diff ? '#diff-chart-0' : '#step-chart';
  if (!pwDir || !chromiumPath || !page || !shot || !stepsArg) {
    throw new Error('usage: browser-check.cjs PLAYWRIGHT_CORE_DIR CHROMIUM PAGE.html SHOT.png STEPS');
  }
  const steps = Number(stepsArg);
  const { chromium } = require(pwDir);
  const problems = [];
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // root in CI containers: Chromium's sandbox needs user namespaces.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const url = 'file://' + path.resolve(page);
    p.on('request', (r) => {
      if (r.url() !== url) problems.push(`request for ${r.url()}: the page must be self-contained`);
    });
    const resp = await p.goto(url, { waitUntil: 'load' });
    if (!resp || !resp.ok()) problems.push(`loading ${url}: ${resp && resp.status()}`);

    const dom = await p.evaluate((chartSel) => {
      const h2 = [...document.querySelectorAll('h2')].map((h) => h.textContent);
      const stepsSection = [...document.querySelectorAll('section')].find((s) => s.querySelector('h2').textContent === 'Steps');
      return {
        title: document.querySelector('h1') && document.querySelector('h1').textContent,
        h2,
        bars: document.querySelectorAll(chartSel + ' rect.bar').length,
        tableRows: document.querySelectorAll('section tbody tr').length,
        stepRows: stepsSection ? stepsSection.querySelectorAll('tbody tr').length : -1,
        checks: document.querySelectorAll('ul.check > li').length,
        text: document.body.innerText,
      };
    }, chartSel);
    if (diff) {
      if (dom.title !== 'vllm-otel-bridge diff') problems.push(`title ${JSON.stringify(dom.title)}`);
      if (!dom.h2.some((h) => h.endsWith(' steps'))) problems.push(`no step-kind section (sections: ${dom.h2.join(', ')})`);
      if (!dom.h2.includes('Report')) problems.push('no text report section');
      if (dom.bars !== steps) problems.push(`${dom.bars} bar groups in the chart, want ${steps}`);
      if (dom.tableRows < steps) problems.push(`${dom.tableRows} changes rows, want at least ${steps}`);
    } else {
    if (dom.title !== 'vllm-otel-bridge inspect') problems.push(`title ${JSON.stringify(dom.title)}`);
    for (const want of ['GPU time per step', 'Steps', 'Checklist', 'Requests']) {
      if (!dom.h2.includes(want)) problems.push(`no section "${want}" (sections: ${dom.h2.join(', ')})`);
    }
    if (!dom.h2.some((h) => h.startsWith('Top kernels: '))) problems.push('no top-kernel table');
    if (dom.bars !== steps) problems.push(`${dom.bars} bars in the chart, want ${steps}`);
    if (dom.stepRows !== steps) problems.push(`${dom.stepRows} rows in the steps table, want ${steps}`);
    if (dom.checks !== 6) problems.push(`${dom.checks} checklist items, want 6`);
    }

    await p.screenshot({ path: shot, fullPage: true });
    const chart = await p.locator(chartSel).screenshot();
    // The legend's colors are the series' colors.
    const colors = await p.evaluate(() => [...document.querySelectorAll('.legend i')].map((i) => getComputedStyle(i).backgroundColor));
    // Count the chart screenshot's pixels in a blank page's canvas (a
    // data: image on about:blank does not taint the canvas).
    const blank = await ctx.newPage();
    const px = await blank.evaluate(async ({ b64, colors }) => {
      const img = new Image();
      img.src = 'data:image/png;base64,' + b64;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const want = colors.map((s) => s.match(/\d+/g).slice(0, 3).map(Number));
      const per = want.map(() => 0);
      let ink = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) ink++;
        want.forEach((w, k) => {
          if (Math.abs(d[i] - w[0]) <= 2 && Math.abs(d[i + 1] - w[1]) <= 2 && Math.abs(d[i + 2] - w[2]) <= 2) per[k]++;
        });
      }
      return { w: c.width, h: c.height, ink, per };
    }, { b64: chart.toString('base64'), colors });
    const total = px.w * px.h;
    const seriesPx = px.per.reduce((a, b) => a + b, 0);
    const present = px.per.filter((n) => n >= steps).length;
    if (total === 0 || px.ink / total < 0.05) problems.push(`chart screenshot ${px.w}x${px.h} is blank: ${px.ink} inked pixels`);
    if (colors.length < 2 || present < 2) problems.push(`chart screenshot shows ${present} of the ${colors.length} legend colors (${px.per.join(', ')} px), want at least 2`);
    if (seriesPx / total < 0.05) problems.push(`only ${seriesPx} pixels of the series' colors in the chart screenshot`);
    console.log(`browser-check${diff ? ' (diff)' : ''}: ${dom.bars} bars, ${diff ? dom.tableRows + ' table rows' : dom.stepRows + ' step rows'}, ${dom.checks} checklist items; chart ${px.w}x${px.h}, ${(100 * px.ink / total).toFixed(1)}% inked, ${present} of ${colors.length} series drawn (${(100 * seriesPx / total).toFixed(1)}% of the pixels); screenshot ${shot} (${fs.statSync(shot).size} B)`);
  } finally {
    await browser.close();
  }
  if (problems.length > 0) {
    for (const m of problems) console.error('browser-check: ' + m);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error('browser-check: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
