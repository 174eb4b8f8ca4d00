// The UI benchmark in real Chromium (run by `npm run bench`; not part of the test suite):
//  - first paint of a 1,000-action workflow graph,
//  - frame times while panning and while dragging a node,
//  - the longest main-thread task on a 1,000-step run page with live updates (Long Tasks API),
//  - DOM size (off-screen nodes are not rendered) and the matrix node collapsed with its count.
// It prints a Markdown table for docs/benchmarks.md.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join } from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { WEB, launch } from '../e2e/harness';

const DIST = join(WEB, 'bench-output', 'dist');
let http: Server;
let base = '';
let browser: Browser;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };

beforeAll(async () => {
  if (!existsSync(join(DIST, 'bench', 'index.html'))) throw new Error('build it first: npx vite build --config vite.bench.config.ts');
  http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = path.startsWith('/ui/assets/') ? join(DIST, path.slice(4)) : join(DIST, 'bench', 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const a = http.address();
  base = `http://127.0.0.1:${a && typeof a === 'object' ? a.port : 0}`;
  ({ browser } = await launch());
});

afterAll(async () => {
  await browser.close();
  await new Promise((r) => http.close(r));
});

const OBSERVE = `
  window.__frames = [];
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true });
  window.__firstNode = 0;
  new MutationObserver((_, o) => {
    if (document.querySelector('.react-flow__node-action')) { window.__firstNode = performance.now(); o.disconnect(); }
  }).observe(document, { subtree: true, childList: true });
`;

async function frames<T>(page: Page, act: () => Promise<T>): Promise<number[]> {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __rec: boolean };
    w.__frames = [];
    w.__rec = true;
    let last = performance.now();
    const tick = (t: number) => {
      w.__frames.push(t - last);
      last = t;
      if (w.__rec) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await act();
  return page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __rec: boolean };
    w.__rec = false;
    return w.__frames.slice(1);
  });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? 0;
const f1 = (x: number) => x.toFixed(1);

it('measures the UI', async () => {
  const rows: string[][] = [];
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript(OBSERVE);
  const page = await context.newPage();

  // 1. first paint of the 1,000-action graph (navigation start → first action node in the DOM).
  const paints: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(`${base}/ui/workflows/big`);
    await page.waitForSelector('.react-flow__node-action');
    paints.push(await page.evaluate(() => (window as unknown as { __firstNode: number }).__firstNode));
  }
  rows.push(['1,000-action graph: first paint (navigation → nodes drawn)', `${paints.map((p) => p.toFixed(0)).join(' / ')} ms`, '< 1,500 ms']);
  await page.waitForTimeout(4000); // the ELK layout lands
  const dom = await page.evaluate(() => ({ all: document.querySelectorAll('*').length, nodes: document.querySelectorAll('.react-flow__node-action').length }));
  rows.push(['DOM at 1,000 actions (virtualised: only visible nodes)', `${dom.nodes} action nodes, ${dom.all} elements`, '—']);
  const matrix = await page.evaluate(() => document.querySelector('[aria-label="action s3-a0"] .an-badge')?.textContent ?? 'not on screen');
  rows.push(['matrix of 16 copies', `one node, badge "${matrix}"`, 'one node with counts']);

  // 2. pan: drag the empty pane.
  const pane = await page.locator('.react-flow__pane').boundingBox();
  if (!pane) throw new Error('no pane');
  await page.mouse.wheel(0, 0);
  const pan = await frames(page, async () => {
    await page.mouse.move(pane.x + pane.width / 2, pane.y + pane.height - 20);
    await page.mouse.down();
    for (let i = 0; i < 90; i++) await page.mouse.move(pane.x + pane.width / 2 - i * 6, pane.y + pane.height - 20 - i * 2);
    await page.mouse.up();
  });
  rows.push(['pan (90 moves): frame time p50 / p95 / max', `${f1(pct(pan, 50))} / ${f1(pct(pan, 95))} / ${f1(Math.max(...pan))} ms`, '< 16 ms']);

  // 3. drag one node.
  const node = page.locator('.react-flow__node-action').first();
  const box = await node.boundingBox();
  if (!box) throw new Error('no node');
  const drag = await frames(page, async () => {
    await page.mouse.move(box.x + 30, box.y + 12);
    await page.mouse.down();
    for (let i = 0; i < 90; i++) await page.mouse.move(box.x + 30 + i * 3, box.y + 12 + i);
    await page.mouse.up();
  });
  rows.push(['drag a node (90 moves): frame time p50 / p95 / max', `${f1(pct(drag, 50))} / ${f1(pct(drag, 95))} / ${f1(Math.max(...drag))} ms`, '< 16 ms']);

  // 4. the 1,000-step run page with live updates (status every 1 s, 200 log lines/s).
  await page.goto(`${base}/ui/runs/bench/steps/s0-a0`);
  await page.waitForSelector('[data-status]');
  await page.evaluate(() => { (window as unknown as { __long: number[] }).__long = []; });
  await page.waitForTimeout(20_000);
  const long = await page.evaluate(() => (window as unknown as { __long: number[] }).__long);
  const statuses = await page.evaluate(() => [...document.querySelectorAll('[data-status]')].map((e) => e.getAttribute('data-status')).filter((s) => s === 'succeeded').length);
  rows.push([
    '1,000-step run page, 20 s of live updates: main-thread tasks > 50 ms',
    `${long.filter((d) => d > 50).length} (longest ${f1(Math.max(0, ...long))} ms; ${statuses} visible nodes succeeded)`,
    '0 tasks > 50 ms',
  ]);

  const table = ['| measure | result | budget |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  console.log(`\n${table}\n`);
  await context.close();
});
