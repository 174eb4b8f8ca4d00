// The end-to-end harness: a real `containerops server` process (SQLite in a temp dir, steps on
// the real Podman engine) and Debian's Chromium driven by playwright-core. No browser download.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const WEB = resolve(__dirname, '..');
export const REPO = resolve(WEB, '..');
export const OUT = join(WEB, 'e2e-output');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        if (a && typeof a === 'object') ok(a.port);
        else fail(new Error('no port'));
      });
    });
  });
}

export interface Server {
  url: string;
  admin: string;
  proc: ChildProcess;
  dir: string;
  log: () => string;
  stop: () => Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the answer's shape
  api: <T = unknown>(method: string, path: string, body?: unknown, token?: string, yaml?: boolean) => Promise<{ status: number; body: T }>;
}

export async function startServer(): Promise<Server> {
  const bin = process.env.CONTAINEROPS_BIN;
  if (!bin) throw new Error('CONTAINEROPS_BIN is not set: build it (cargo build -p containerops) and export its path');
  const dir = mkdtempSync(join(tmpdir(), 'co-web-e2e-'));
  const port = await freePort();
  const admin = `co_e2e_admin_${Math.random().toString(36).slice(2)}${Date.now()}`;
  let output = '';
  const proc = spawn(
    bin,
    ['server', '--listen', `127.0.0.1:${port}`, '--admin-token', admin, '--data-dir', dir, '--database', join(dir, 'co.db'), '--ui-dir', join(WEB, 'dist')],
    { env: { ...process.env, DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///run/podman/podman.sock', CONTAINEROPS_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`containerops server exited (${proc.exitCode}):\n${output}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`containerops server did not become ready in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- as above
  const api = async <T = unknown>(method: string, path: string, body?: unknown, token = admin, yaml = false) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['Content-Type'] = yaml ? 'application/yaml' : 'application/json';
      payload = yaml && typeof body === 'string' ? body : JSON.stringify(body);
    }
    const r = await fetch(`${url}/api/v1${path}`, { method, headers, body: payload });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
  };
  return {
    url,
    admin,
    proc,
    dir,
    log: () => output,
    api,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Chromium with a fresh temporary profile (playwright-core makes one per launch and removes it). */
export async function launch(): Promise<{ browser: Browser }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser };
}

export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // HTTP error answers are part of the flows (401 before signing in, 409 on a conflict) and
    // are asserted through the UI; anything else logged as an error fails the test.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

/** docs/ui/: the pictures of docs/ui.md, refreshed from a run with CONTAINEROPS_UPDATE_SCREENSHOTS=1. */
export const DOC_PICTURES = join(REPO, 'docs', 'ui');

/**
 * Saves a screenshot in e2e-output/ (look at them). `doc` pictures are the ones docs/ui.md shows:
 * with CONTAINEROPS_UPDATE_SCREENSHOTS=1 they are written to docs/ui/ as well.
 */
export async function shot(page: Page, name: string, doc = false): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, `${name}.png`) });
  if (doc && process.env.CONTAINEROPS_UPDATE_SCREENSHOTS === '1') copyFileSync(join(OUT, `${name}.png`), join(DOC_PICTURES, `${name}.png`));
}

export async function login(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}
