// The UI end to end, as a person uses it: real Chromium, a real `containerops server`, steps on
// real Podman. Screenshots go to web/e2e-output/ (the best are in docs/ui.md).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleBoxes, nodeHeight, RUN_NODE_H } from '../src/graph/graphData';
import { REPO, WEB, launch, login, newPage, shot, startServer, type Server } from './harness';

let server: Server;
let browser: Browser;

const fixture = (name: string) => readFileSync(join(WEB, 'e2e', 'fixtures', name), 'utf8');

beforeAll(async () => {
  server = await startServer();
  ({ browser } = await launch());
  for (const c of ['greet.yaml', 'shout.yaml', 'deploy.yaml']) {
    const r = await server.api('POST', '/components', fixture(c), undefined, true);
    expect([200, 201]).toContain(r.status);
  }
});

afterAll(async () => {
  // (either may be missing when starting them failed: that error is the one to see)
  await (browser as Browser | undefined)?.close();
  await (server as Server | undefined)?.stop();
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

/** The zoom of the page's graph as drawn. */
async function viewZoom(page: Page) {
  return page.evaluate(() => {
    const vp = document.querySelector('.react-flow__viewport');
    return vp ? new DOMMatrixReadOnly(getComputedStyle(vp).transform).m22 : NaN;
  });
}

/** Handle boxes of a node as the DOM has them, relative to the node, in flow px. */
async function domHandles(page: Page, node: string) {
  return page.evaluate((id) => {
    const n = document.querySelector<HTMLElement>(`.react-flow__node[data-id="${id}"]`);
    const vp = document.querySelector('.react-flow__viewport');
    if (!n || !vp) return [];
    const zoom = new DOMMatrixReadOnly(getComputedStyle(vp).transform).m22;
    const nb = n.getBoundingClientRect();
    return [...n.querySelectorAll('.react-flow__handle')].map((h) => {
      const b = h.getBoundingClientRect();
      return { id: h.getAttribute('data-handleid'), x: (b.x - nb.x) / zoom, y: (b.y - nb.y) / zoom, width: b.width / zoom, height: b.height / zoom };
    });
  }, node);
}

/** The handles React Flow is given (computed, so off-screen nodes are never drawn to be measured) are where the DOM puts them. */
async function handlesMatch(page: Page, node: string, inputs: string[], outputs: string[], ports: boolean) {
  const dom = await domHandles(page, node);
  const computed = handleBoxes(230, ports ? nodeHeight(inputs.length, outputs.length) : RUN_NODE_H, inputs, outputs, ports);
  expect(dom.map((h) => h.id).sort()).toEqual(computed.map((h) => h.id ?? null).sort());
  for (const c of computed) {
    const d = dom.find((h) => h.id === c.id && Math.abs(h.x - c.x) < 1);
    expect(d, `handle ${c.id ?? 'node'} of ${node}`).toMatchObject({ x: expect.closeTo(c.x, 0) as unknown, y: expect.closeTo(c.y, 0) as unknown, width: expect.closeTo(c.width, 0) as unknown });
  }
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
    // The server's validator: greet lacks its required input, pinned to its YAML line and node.
    await expect.poll(() => page.locator('.problems').textContent()).toContain('who');
    await page.getByRole('button', { name: 'action greet' }).getByLabel(/problem/).waitFor();
    expect(await page.locator('.cm-lintRange-error').count()).toBeGreaterThan(0);
    // Ports are where React Flow is told they are.
    await handlesMatch(page, 'greet', ['who'], ['greeting'], true);
    await handlesMatch(page, 'shout', ['text', 'times'], ['shouted'], true);

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
    // One history for canvas, forms and text: the form edit undone and redone…
    const yaml = page.getByLabel('YAML');
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => yaml.textContent()).not.toContain('who: team');
    await page.getByRole('button', { name: 'Redo' }).click();
    await expect.poll(() => yaml.textContent()).toContain('who: team');
    // …and text typed in the YAML pane draws on the canvas and is undone the same way.
    await yaml.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.insertText('  - name: typed\n    actions:\n      - name: typed\n        image: localhost/co-examples/busybox:latest\n');
    await page.getByRole('button', { name: 'action typed' }).waitFor();
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByRole('button', { name: 'action typed' }).count()).toBe(0);
    expect(await yaml.textContent()).not.toContain('typed');
    await settled(page);
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
    await page.locator('.page-head .chip').filter({ hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    await shot(page, 'run-succeeded', true);
    // The run links to the revision it ran (its first: the workflow's page).
    expect(await page.locator('.page-head').getByRole('link', { name: 'revision 1', exact: true }).getAttribute('href')).toBe('/ui/workflows/two-step');
    await handlesMatch(page, 'shout', ['text', 'times'], ['shouted'], false);

    // Keyboard: from a node, the arrows move to its neighbours and Enter opens one.
    await greet.focus();
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('action shout');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('action greet');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/steps\/greet$/);

    // Every log line has a link; the link opens the page scrolled to that line.
    const first = page.getByRole('log', { name: 'log of greet' }).locator('.log-line').filter({ hasText: 'preparing a greeting for team' });
    const link = first.getByRole('link');
    const href = await link.getAttribute('href');
    expect(href).toMatch(/\/ui\/runs\/[^/]+\/steps\/greet#L\d+$/);
    await link.click();
    await expect.poll(() => first.getAttribute('class')).toContain('target');
    await page.goto(`${server.url}${href ?? ''}`);
    const target = page.locator('.log-line.target');
    await target.waitFor();
    expect(await target.textContent()).toContain('preparing a greeting for team');
    expect(await target.isVisible()).toBe(true);

    // The timeline: one bar per step on one time axis.
    await page.getByRole('button', { name: 'Timeline' }).click();
    const rows = page.getByRole('list', { name: 'timeline' }).getByRole('listitem');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).getAttribute('data-status')).toBe('succeeded');
    expect(await rows.nth(1).locator('.gantt-bar').count()).toBe(1);
    await shot(page, 'run-timeline', true);

    // Rerun makes a new run of the same revision (linked to this one); Cancel run stops it.
    const parent = page.url().split('/runs/')[1]?.split('/')[0] ?? '';
    await page.getByRole('button', { name: 'Rerun' }).click();
    await page.waitForURL((u) => /\/ui\/runs\/[^/]+$/.test(u.pathname) && !u.pathname.includes(parent));
    await page.getByRole('link', { name: parent.slice(0, 12) }).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Cancel run' }).isDisabled()).toBe(false);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('.page-head .chip').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60_000 });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('edits examples/ci-pipeline through the canvas, changing only the edited spans', async () => {
    const original = readFileSync(join(REPO, 'examples', 'ci-pipeline', 'workflow.yaml'), 'utf8');
    execFileSync(process.env.CONTAINEROPS_BIN ?? 'containerops', ['--server', server.url, '--token', server.admin, 'workflows', 'apply', join(REPO, 'examples', 'ci-pipeline', 'workflow.yaml')], { stdio: 'pipe' });
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/workflows/ci-pipeline/edit`);
    // Too wide to fit the half-width canvas readably: it opens at a readable zoom on its start.
    await settled(page);
    expect(await viewZoom(page)).toBeGreaterThanOrEqual(0.75);
    await shot(page, 'editor-ci-pipeline-opened');
    await page.getByRole('button', { name: 'action compile' }).click();
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('build-c');
    await name.press('Enter');
    await page.getByRole('button', { name: 'action build-c' }).waitFor();
    await settled(page);
    // The wire's two ends are far apart: see the whole graph, as a user would.
    await page.getByRole('button', { name: 'Fit View' }).click();
    await expect.poll(() => viewZoom(page)).toBeLessThan(0.75);
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
    await graphReady(page);
    await page.getByRole('button', { name: 'Fit View' }).click();
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
    // The form comes from the workflow's typed inputs: defaults filled in, values type-checked.
    const form = page.getByRole('form', { name: 'run inputs' });
    expect(await form.getByLabel(/label/).inputValue()).toBe('nightly');
    const shards = form.getByLabel(/shards/);
    expect(await shards.inputValue()).toBe('3');
    await shards.fill('');
    await shards.pressSequentially('4.5');
    await form.getByText('must be a whole number').waitFor();
    expect(await form.getByRole('button', { name: 'Run' }).isDisabled()).toBe(true);
    await shards.fill('4');
    await form.getByRole('button', { name: 'Run' }).click();
    await page.waitForURL(/\/ui\/runs\/[^/]+$/);
    const runId = page.url().split('/runs/')[1] ?? '';
    expect((await server.api<{ inputs: Record<string, unknown> }>('GET', `/runs/${runId}`)).body.inputs).toEqual({ label: 'nightly', shards: 4 });
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

  it('draws a seed-format flow as the server reads it, and its run', async () => {
    const put = await server.api('PUT', '/workflows/seed-e2e', { yaml: fixture('seed-flow.yaml') });
    expect(put.status).toBe(201);
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/workflows/seed-e2e`);
    for (const job of ['compile', 'package', 'upload']) await page.getByRole('button', { name: `action ${job}` }).waitFor();
    await page.getByRole('group', { name: 'stage build' }).waitFor();
    await page.getByRole('group', { name: 'stage publish' }).waitFor();
    // the subscription (written `compile.compile[CO_ARTIFACT]`) is a wire from compile's output
    await page.locator('.react-flow__handle[data-nodeid="build.compile.compile"][data-handleid="out:CO_ARTIFACT"]').waitFor();
    await graphReady(page);
    await shot(page, 'seed-flow', true);
    const run = await server.api<{ id: string }>('POST', '/workflows/seed-e2e/runs', { inputs: {} });
    expect(run.status).toBe(201);
    await page.goto(`${server.url}/ui/runs/${run.body.id}`);
    const done = ['succeeded', 'failed', 'skipped', 'cancelled'];
    for (const job of ['compile', 'package', 'upload']) {
      await expect.poll(async () => done.includes((await page.getByRole('button', { name: `action ${job}` }).getAttribute('data-status')) ?? ''), { timeout: 60_000 }).toBe(true);
    }
    expect(await page.getByRole('button', { name: 'action compile' }).getAttribute('data-status')).toBe('succeeded');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('searches the palette, drops an image step into a lane, and picks a secret by name', async () => {
    expect((await server.api('PUT', '/secrets/deploy-key', { value: 'e2e-not-a-real-key' })).status).toBe(204);
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/new`);
    await page.getByLabel('Search components').fill('dep');
    await expect.poll(() => page.locator('.palette-item').allTextContents()).toEqual(['container image+', 'deploy@1.0.0+']);
    await page.getByRole('button', { name: 'Add deploy@1.0.0' }).click();
    await page.getByRole('button', { name: 'action deploy' }).waitFor();
    await settled(page);
    // Dropped onto the deploy lane, a container image step runs in parallel there.
    const lane = page.getByRole('group', { name: 'stage deploy' });
    const box = await lane.boundingBox();
    if (!box) throw new Error('no lane');
    await page.getByLabel('palette container image').dragTo(lane, { targetPosition: { x: box.width / 2, y: box.height - 8 } });
    await page.getByRole('button', { name: 'action step' }).waitFor();
    const yaml = page.getByLabel('YAML');
    await expect.poll(() => yaml.textContent()).toMatch(/- name: deploy\s+actions:\s+- name: deploy\s+component: deploy@1\.0\.0\s+- name: step\s+image:/);
    // A secret input offers the server's secret names, and writes the reference.
    await page.getByRole('button', { name: 'action deploy' }).click();
    await page.locator('#inp-deploy-token').selectOption('deploy-key');
    await expect.poll(() => yaml.textContent()).toContain('token: "${{ secrets.deploy-key }}"');
    await shot(page, 'editor-palette');
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows a step's inputs as launched, a secret input masked", async () => {
    const secret = 'e2e-not-a-real-key';
    expect((await server.api('PUT', '/secrets/deploy-key', { value: secret })).status).toBe(204);
    const wf =
      'name: masked\ninputs:\n  who: { type: string, default: the launched value }\nstages:\n  - name: go\n    actions:\n' +
      '      - name: deploy\n        component: deploy@1.0.0\n        with: { token: "${{ secrets.deploy-key }}" }\n' +
      '      - name: shout\n        component: shout@1.0.0\n        with: { text: "${{ inputs.who }}" }\n';
    expect((await server.api('PUT', '/workflows/masked', { yaml: wf })).status).toBe(201);
    const run = await server.api<{ id: string }>('POST', '/workflows/masked/runs', { inputs: {} });
    expect(run.status).toBe(201);
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    const entries = (step: string) =>
      page.getByLabel(`inputs of ${step}`).evaluate((dl) => [...dl.querySelectorAll('div')].map((d) => [d.querySelector('dt')?.textContent, d.querySelector('dd')?.textContent]));
    await page.goto(`${server.url}/ui/runs/${run.body.id}/steps/deploy`);
    for (const step of ['deploy', 'shout']) {
      await expect.poll(() => page.getByRole('button', { name: `action ${step}` }).getAttribute('data-status'), { timeout: 60_000 }).toBe('succeeded');
    }
    // The values the step was launched with: the secret-typed input masked…
    const panel = page.getByRole('complementary', { name: 'step deploy' });
    await expect.poll(() => entries('deploy')).toEqual([['token', '***']]);
    expect(await panel.getByRole('heading', { name: /^Inputs/ }).textContent()).toBe('Inputs ');
    // …and an expression as the value it had, not as written.
    await page.getByRole('button', { name: 'action shout' }).click();
    await expect.poll(async () => Object.fromEntries(await entries('shout')) as Record<string, string>).toMatchObject({ text: 'the launched value' });
    // The secret's value is nowhere in the page.
    expect(await page.content()).not.toContain(secret);
    await page.goto(`${server.url}/ui/runs/${run.body.id}/steps/deploy`);
    await expect.poll(() => entries('deploy')).toEqual([['token', '***']]);
    expect(await page.content()).not.toContain(secret);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('resumes the live log after a dropped connection, with no gap and no line twice', async () => {
    const runs = await server.api<{ runs: { id: string; status: string }[] }>('GET', '/runs?workflow=two-step&status=succeeded');
    const id = runs.body.runs[0]?.id ?? '';
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    // The first stream request is cut after its first log line (the connection drops), so the
    // browser's EventSource reconnects by itself; that attempt fails (a 502 from a proxy), so
    // EventSource gives up and the page reopens the stream after the last line it holds.
    const asked: string[] = [];
    await page.route('**/api/v1/runs/*/logs/stream*', async (route) => {
      asked.push(new URL(route.request().url()).search);
      if (asked.length === 1) {
        const whole = await (await route.fetch()).text();
        const firstLine = whole.indexOf('event: log');
        const cut = whole.indexOf('\n\n', firstLine) + 2;
        await route.fulfill({ status: 200, headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }, body: whole.slice(0, cut) });
      } else if (asked.length === 2) await route.fulfill({ status: 502, body: 'bad gateway' });
      else await route.continue();
    });
    await page.goto(`${server.url}/ui/runs/${id}/steps/shout`);
    const log = page.getByRole('log', { name: 'log of shout' });
    await log.getByText('[COUT] shouted = hello team!').waitFor({ timeout: 30_000 });
    expect(asked).toEqual(['', '', '?after=1']);
    const stored = await server.api<{ lines: { seq: number }[] }>('GET', `/runs/${id}/logs`);
    const shown = async (step: string) => page.getByRole('log', { name: `log of ${step}` }).locator('.log-line .ln').allTextContents();
    // Numbered within the step (the run-wide seq stays the stream's key).
    expect(await shown('shout')).toEqual(['1', '2']);
    await page.getByRole('button', { name: 'action greet' }).click();
    await expect.poll(() => shown('greet')).toEqual(['1', '2']);
    expect(stored.body.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('lists runs by workflow, status and trigger, and the component catalog', async () => {
    const { context, page, errors } = await newPage(browser);
    await login(page, server.url, server.admin);
    await page.goto(`${server.url}/ui/runs`);
    await page.getByLabel('Status').selectOption('failed');
    await page.waitForURL(/\?status=failed$/);
    const cells = page.locator('table.list tbody tr td:nth-child(3)');
    // The unfiltered list stays on screen until the filtered answer arrives: wait for it.
    await expect.poll(async () => [...new Set(await cells.allTextContents())]).toEqual(['failed']);
    await page.goto(`${server.url}/ui/runs?workflow=two-step`);
    const wfs = page.locator('table.list tbody tr td:nth-child(2)');
    await expect.poll(async () => (await wfs.allTextContents()).length).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => [...new Set(await wfs.allTextContents())]).toEqual(['two-step']);
    // Paging: 26 runs of one workflow are two pages (25 a page), none on both.
    const many = 'name: many\nstages:\n  - name: s\n    actions:\n      - { name: a, image: "localhost/co-examples/busybox:latest", command: ["true"] }\n';
    expect((await server.api('PUT', '/workflows/many', { yaml: many })).status).toBe(201);
    const made: string[] = [];
    for (let i = 0; i < 26; i++) made.push((await server.api<{ id: string }>('POST', '/workflows/many/runs', { inputs: {} })).body.id);
    await page.goto(`${server.url}/ui/runs?workflow=many`);
    const ids = page.locator('table.list tbody tr td:nth-child(1)');
    await expect.poll(() => ids.count()).toBe(25);
    const first = await ids.allTextContents();
    await page.getByRole('link', { name: 'Next page' }).click();
    await expect.poll(() => ids.count()).toBe(1);
    const second = await ids.allTextContents();
    expect(new Set([...first, ...second]).size).toBe(26);
    expect(new Set([...first, ...second])).toEqual(new Set(made.map((id) => id.slice(0, 12))));
    await page.getByRole('link', { name: 'First page' }).click();
    await expect.poll(() => ids.count()).toBe(25);
    for (const id of made) await server.api('POST', `/runs/${id}/cancel`);
    // The trigger filter: a run a webhook delivery started and one started through the API.
    expect((await server.api('PUT', '/secrets/HOOK_TOKEN', { value: 'e2e-hook-token' })).status).toBe(204);
    const hooked = 'name: hooked\ntriggers:\n  - webhook: { secret: HOOK_TOKEN }\nstages:\n  - name: s\n    actions:\n      - { name: a, image: "localhost/co-examples/busybox:latest", command: ["true"] }\n';
    expect((await server.api('PUT', '/workflows/hooked', { yaml: hooked })).status).toBe(201);
    const byApi = (await server.api<{ id: string }>('POST', '/workflows/hooked/runs', { inputs: {} })).body.id;
    const delivery = await fetch(`${server.url}/api/v1/hooks/hooked/webhook`, { method: 'POST', headers: { 'X-ContainerOps-Token': 'e2e-hook-token', 'Content-Type': 'application/json' }, body: '{}' });
    expect(delivery.status).toBe(201);
    const byHook = ((await delivery.json()) as { run_id: string }).run_id;
    // The workflow page names its trigger and the address to give the sender.
    await page.goto(`${server.url}/ui/workflows/hooked`);
    const trigger = page.getByRole('list', { name: 'triggers' }).getByRole('listitem');
    await expect.poll(() => trigger.allTextContents()).toEqual([`Webhook secret HOOK_TOKENdeliveries to POST ${server.url}/api/v1/hooks/hooked/webhook`]);
    await shot(page, 'workflow-triggers');
    await page.goto(`${server.url}/ui/runs?workflow=hooked`);
    await expect.poll(() => ids.allTextContents()).toHaveLength(2);
    const triggers = page.locator('table.list tbody tr td:nth-child(4)');
    await page.getByLabel('Trigger').selectOption('webhook');
    await page.waitForURL(/trigger=webhook/);
    await expect.poll(() => ids.allTextContents()).toEqual([byHook.slice(0, 12)]);
    expect(await triggers.allTextContents()).toEqual(['webhook']);
    await page.getByLabel('Trigger').selectOption('api');
    await page.waitForURL(/trigger=api/);
    await expect.poll(() => ids.allTextContents()).toEqual([byApi.slice(0, 12)]);
    expect(await triggers.allTextContents()).toEqual(['api']);
    // Across all workflows (many runs from the API by now), the one a webhook started.
    await page.goto(`${server.url}/ui/runs?trigger=webhook`);
    await expect.poll(() => ids.allTextContents()).toEqual([byHook.slice(0, 12)]);
    await page.goto(`${server.url}/ui/components/shout`);
    const inputs = page.getByRole('table').filter({ has: page.getByText('Inputs', { exact: true }) });
    await inputs.getByRole('cell', { name: 'times' }).waitFor();
    expect(await inputs.textContent()).toContain('int');
    await page.getByText('image localhost/co-examples/busybox:latest').first().waitFor();
    await shot(page, 'components', true);
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
