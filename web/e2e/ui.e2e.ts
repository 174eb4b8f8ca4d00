// The UI end to end, as a person uses it: real Chromium, a real `containerops server`, steps on
// real Podman. Screenshots go to web/e2e-output/ (the best are in docs/ui.md).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, WEB, launch, login, newPage, shot, startServer, type Server } from './harness';

let server: Server;
let browser: Browser;

const fixture = (name: string) => readFileSync(join(WEB, 'e2e', 'fixtures', name), 'utf8');

beforeAll(async () => {
  server = await startServer();
  ({ browser } = await launch());
  for (const c of ['greet.yaml', 'shout.yaml']) {
    const r = await server.api('POST', '/components', fixture(c), undefined, true);
    expect([200, 201]).toContain(r.status);
  }
});

afterAll(async () => {
  await browser.close();
  await server.stop();
});

async function handle(page: Page, node: string, id: string) {
  const h = page.locator(`.react-flow__handle[data-nodeid="${node}"][data-handleid="${id}"]`);
  await h.waitFor();
  const box = await h.boundingBox();
  if (!box) throw new Error(`no box for ${node} ${id}`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/**
 * Waits until nothing on the canvas moves any more: the graph shows the ELK layout of the current
 * shape, fitted (`data-layout="ready"`), and the problems belong to the current text (validation
 * answers change badges, never geometry).
 */
async function settled(page: Page) {
  await page.locator('.editor-graph .graph[data-layout="ready"]').waitFor();
  await page.locator('.problems[aria-busy="false"]').waitFor();
}

/** Waits until the page's graph shows its final layout (nothing moves any more). */
async function graphReady(page: Page) {
  await page.locator('.graph[data-layout="ready"]').waitFor();
}

async function dragWire(page: Page, from: { x: number; y: number }, to: { x: number; y: number }, release = true) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(from.x + ((to.x - from.x) * i) / 12, from.y + ((to.y - from.y) * i) / 12);
  if (release) await page.mouse.up();
}

describe('the web UI', () => {
  it('logs in with an API token (and refuses a wrong one)', async () => {
    const { context, page, errors } = await newPage(browser);
    await page.goto(`${server.url}/`);
    await page.getByLabel('API token').waitFor();
    expect(page.url()).toContain('/ui/');
    await shot(page, 'login', true);
    await page.getByLabel('API token').fill('co_not_a_token_at_all');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBeTruthy();
    await page.getByLabel('API token').fill(server.admin);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Workflows' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.some((c) => c.httpOnly && c.sameSite === 'Strict')).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('draws a two-step workflow from an empty canvas, saves it, runs it and watches it live', async () => {
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/new`);
    await page.getByLabel('Workflow name').fill('two-step');
    const pane = page.locator('.editor-graph .react-flow__pane');
    await page.getByLabel('palette greet@1.0.0').dragTo(pane, { targetPosition: { x: 200, y: 200 } });
    await page.getByRole('button', { name: 'action greet' }).waitFor();
    const paneBox = await pane.boundingBox();
    if (!paneBox) throw new Error('no canvas');
    await page.getByLabel('palette shout@1.0.0').dragTo(pane, { targetPosition: { x: paneBox.width - 30, y: 60 } });
    await page.getByRole('button', { name: 'action shout' }).waitFor();
    await expect.poll(async () => (await page.locator('.react-flow__node').count()) >= 4).toBe(true);
    await settled(page);

    // A type mismatch is refused while dragging, with the reason.
    await dragWire(page, await handle(page, 'greet', 'out:greeting'), await handle(page, 'shout', 'in:times'), false);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Refused' }).textContent()).toContain('type mismatch');
    await shot(page, 'editor-refused-wire', true);
    await page.mouse.up();

    await dragWire(page, await handle(page, 'greet', 'out:greeting'), await handle(page, 'shout', 'in:text'));
    await expect.poll(() => page.getByLabel('YAML').textContent()).toContain('${{ actions.greet.outputs.greeting }}');
    await page.getByRole('button', { name: 'action greet' }).click();
    await page.locator('#inp-greet-who').fill('team');
    await page.locator('#inp-greet-who').press('Enter');
    await expect.poll(() => page.getByLabel('YAML').textContent()).toContain('who: team');
    await expect.poll(() => page.locator('.problems').textContent()).toContain('No problems');
    await shot(page, 'editor-drawn', true);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await shot(page, 'editor-save-diff', true);
    await page.getByRole('button', { name: 'Save revision' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved revision 1' }).waitFor();
    const stored = await server.api<{ yaml: string }>('GET', '/workflows/two-step');
    expect(stored.body.yaml).toBe(
      'name: two-step\nstages:\n  - name: greet\n    actions:\n      - name: greet\n        component: greet@1.0.0\n        with: { who: team }\n  - name: shout\n    actions:\n      - name: shout\n        component: shout@1.0.0\n        with: { text: "${{ actions.greet.outputs.greeting }}" }\n',
    );

    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/ui\/runs\/[^/]+$/);
    const greet = page.getByRole('button', { name: 'action greet' });
    const shout = page.getByRole('button', { name: 'action shout' });
    // Every step is visible from the start.
    await shout.waitFor();
    await greet.click();
    await page.waitForURL(/\/steps\/greet$/);
    const log = page.getByRole('log', { name: 'log of greet' });
    const line = log.getByText('preparing a greeting for team');
    await line.waitFor({ timeout: 60_000 });
    // The line is there while the step still runs (it sleeps 6 s after printing it; the page
    // refreshes step states every second).
    await expect.poll(() => greet.getAttribute('data-status'), { timeout: 3000 }).toBe('running');
    expect(await line.isVisible()).toBe(true);
    await graphReady(page);
    await shot(page, 'run-live', true);
    await expect.poll(() => greet.getAttribute('data-status'), { timeout: 60_000 }).toBe('succeeded');
    await expect.poll(() => shout.getAttribute('data-status'), { timeout: 60_000 }).toBe('succeeded');
    await page.getByText('hello team').first().waitFor();
    await shout.click();
    await page.getByRole('log', { name: 'log of shout' }).getByText('SHOUTING: HELLO TEAM').waitFor();
    await graphReady(page);
    await shot(page, 'run-succeeded', true);
    await page.getByRole('button', { name: 'Timeline' }).click();
    await shot(page, 'run-timeline', true);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('edits examples/ci-pipeline through the canvas, changing only the edited spans', async () => {
    const original = readFileSync(join(REPO, 'examples', 'ci-pipeline', 'workflow.yaml'), 'utf8');
    execFileSync(process.env.CONTAINEROPS_BIN ?? 'containerops', ['--server', server.url, '--token', server.admin, 'workflows', 'apply', join(REPO, 'examples', 'ci-pipeline', 'workflow.yaml')], { stdio: 'pipe' });
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/workflows/ci-pipeline/edit`);
    await page.getByRole('button', { name: 'action compile' }).click();
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('build-c');
    await name.press('Enter');
    await page.getByRole('button', { name: 'action build-c' }).waitFor();
    await settled(page);
    await page.getByRole('button', { name: 'action checksum' }).click();
    await page.getByLabel('attempts').fill('3');
    await page.getByRole('button', { name: 'Set retry' }).click();
    await dragWire(page, await handle(page, 'build-c', 'out:binary'), await handle(page, 'checksum', 'in:file'));
    await expect.poll(() => page.getByLabel('YAML').textContent()).toContain('file: "${{ actions.build-c.outputs.binary }}"');
    await shot(page, 'editor-ci-pipeline');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('button', { name: 'Save revision' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved revision 2' }).waitFor();
    const saved = (await server.api<{ yaml: string }>('GET', '/workflows/ci-pipeline')).body.yaml;
    const expected = original
      .replace('      - name: compile\n', '      - name: build-c\n')
      .replaceAll('${{ actions.compile.outputs.binary }}', '${{ actions.build-c.outputs.binary }}')
      .replace(
        '        with: { file: "${{ actions.tarball.outputs.artifact }}" }\n',
        '        with: { file: "${{ actions.build-c.outputs.binary }}" }\n        retry: { attempts: 3, backoff: 1s }\n',
      );
    expect(saved).toBe(expected);
    // The two revisions side by side: changed nodes marked on the graph, beside the text diff.
    await page.goto(`${server.url}/ui/workflows/ci-pipeline/revisions/1...2`);
    await page.getByRole('table', { name: 'diff' }).getByText('build-c').first().waitFor();
    expect(await page.getByRole('button', { name: 'action checksum' }).getAttribute('class')).toContain('diff-changed');
    expect(await page.getByRole('button', { name: 'action build-c' }).getAttribute('class')).toContain('diff-changed');
    await page.getByText('compile → build-c').waitFor();
    await graphReady(page);
    await shot(page, 'revision-diff', true);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('shows a save conflict and overwrites nothing', async () => {
    const hello = readFileSync(join(REPO, 'examples', 'hello', 'workflow.yaml'), 'utf8');
    expect((await server.api('PUT', '/workflows/hello', { yaml: hello })).status).toBe(201);
    const { context, page } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/workflows/hello/edit`);
    await page.getByRole('button', { name: 'action upper' }).click();
    await page.getByLabel('attempts').fill('2');
    await page.getByRole('button', { name: 'Set retry' }).click();
    // Someone else saves in between.
    const theirs = hello.replace('default: world', 'default: everyone');
    expect((await server.api('PUT', '/workflows/hello', { yaml: theirs })).status).toBe(201);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('button', { name: 'Save revision' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Save conflict' });
    await dialog.getByText('Nothing was overwritten').waitFor();
    await shot(page, 'editor-conflict', true);
    const latest = await server.api<{ yaml: string; revision: number }>('GET', '/workflows/hello');
    expect(latest.body.revision).toBe(2);
    expect(latest.body.yaml).toBe(theirs);
    await context.close();
  });

  it('folds matrix copies into one node and shows a failed step attempt by attempt', async () => {
    expect((await server.api('PUT', '/workflows/flaky', { yaml: fixture('flaky.yaml') })).status).toBe(201);
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/workflows/flaky`);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('form', { name: 'run inputs' }).getByRole('button', { name: 'Run' }).click();
    await page.waitForURL(/\/ui\/runs\/[^/]+$/);
    const compile = page.getByRole('button', { name: 'action compile' });
    const unit = page.getByRole('button', { name: 'action unit' });
    await expect.poll(() => unit.getAttribute('data-status'), { timeout: 60_000 }).toBe('failed');
    expect(await compile.getAttribute('data-status')).toBe('succeeded');
    expect(await compile.textContent()).toContain('3 succeeded');
    await unit.click();
    const panel = page.getByRole('complementary', { name: 'step unit' });
    await panel.getByRole('alert').getByText('exit code 3').waitFor();
    await panel.getByRole('table').getByText('#2').waitFor();
    // The run ends a moment after its last step: then it may be resumed.
    await expect.poll(() => page.getByRole('button', { name: 'Resume' }).isDisabled(), { timeout: 30_000 }).toBe(false);
    await graphReady(page);
    await shot(page, 'run-failed', true);
    // The dashboard now has every kind of run of this suite.
    await page.goto(`${server.url}/ui/`);
    await page.getByRole('heading', { name: 'Workflows' }).waitFor();
    await page.getByRole('link', { name: 'flaky' }).first().waitFor();
    await shot(page, 'dashboard', true);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("gives a viewer a read-only UI with the reason shown", async () => {
    const created = await server.api<{ token: string }>('POST', '/tokens', { name: 'e2e-viewer', role: 'viewer' });
    expect(created.status).toBe(201);
    const runs = await server.api<{ runs: { id: string }[] }>('GET', '/runs?workflow=two-step');
    const { context, page } = await newPage(browser);
    await login(page, server.url, created.body.token);
    await page.goto(`${server.url}/ui/workflows/hello`);
    for (const b of ['Edit', 'Run']) {
      const btn = page.getByRole('button', { name: b, exact: true });
      expect(await btn.isDisabled()).toBe(true);
      expect(await btn.getAttribute('title')).toContain('viewer');
    }
    await page.getByText('Read-only: you are signed in with a viewer token.').first().waitFor();
    await graphReady(page);
    await shot(page, 'viewer-workflow', true);
    await page.goto(`${server.url}/ui/workflows/hello/edit`);
    expect(await page.getByRole('button', { name: 'Save', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByLabel('YAML').getAttribute('contenteditable')).toBe('false');
    const id = runs.body.runs[0]?.id ?? '';
    await page.goto(`${server.url}/ui/runs/${id}`);
    for (const b of ['Cancel run', 'Rerun', 'Resume']) expect(await page.getByRole('button', { name: b }).isDisabled()).toBe(true);
    await shot(page, 'viewer-run');
    await context.close();
  });
});
