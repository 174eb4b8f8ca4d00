// A fake server inside the page, for the benchmark only: the real pages and components run on
// synthetic data (a 1,000-action workflow, a 1,000-step run with live updates), so the figures
// measure the browser side alone.
import type { LogLine, RunView, StepView } from '../src/api/types';

export const STAGES = 20;
export const PER_STAGE = 50;
/** Log lines the stream replays on connecting. */
export const BACKLOG = 5000;

/** A workflow of STAGES × PER_STAGE actions; each action reads an output of one in the stage before. */
export function bigWorkflow(): string {
  let s = '# 1,000 actions for the benchmark\nname: big\ninputs:\n  who: { type: string, default: world }\nstages:\n';
  for (let st = 0; st < STAGES; st++) {
    s += `  - name: stage-${st}\n    actions:\n`;
    for (let a = 0; a < PER_STAGE; a++) {
      s += `      - name: s${st}-a${a}\n        image: localhost/co-examples/busybox:latest\n        command: ["sh", "-c", "echo \\"[COUT] out = ${st}-${a}\\""]\n`;
      if (st > 0) s += `        with: { in: "\${{ actions.s${st - 1}-a${(a * 7) % PER_STAGE}.outputs.out }}" }\n`;
      if (st === 3 && a === 0) s += '        matrix: { os: [a, b, c, d], n: [1, 2, 3, 4] }\n';
    }
  }
  return s;
}

/** Wall-clock time the page loaded: the run started then. */
const loaded = Date.now();

function stepsAt(t: number): StepView[] {
  // Steps start one stage per 2 s; each runs 1.5 s.
  const out: StepView[] = [];
  const t0 = loaded;
  for (let st = 0; st < STAGES; st++) {
    for (let a = 0; a < PER_STAGE; a++) {
      const start = st * 2000;
      const end = start + 1500;
      const status = t < start ? 'pending' : t < end ? 'running' : 'succeeded';
      const copies = st === 3 && a === 0 ? 16 : 1;
      for (let c = 0; c < copies; c++) {
        const key = copies > 1 ? `s${st}-a${a}[os=${'abcd'[c % 4] ?? 'a'},n=${(c >> 2) + 1}]` : `s${st}-a${a}`;
        out.push({
          stage: `stage-${st}`,
          action: key,
          key,
          status,
          attempts: status === 'pending' ? 0 : 1,
          exit_code: status === 'succeeded' ? 0 : null,
          outputs: status === 'succeeded' ? { out: `${st}-${a}` } : {},
          inputs: status === 'pending' ? {} : { n: a },
          error: null,
          started_at: t >= start ? new Date(t0 + start).toISOString() : null,
          finished_at: t >= end ? new Date(t0 + end).toISOString() : null,
          attempts_detail: [],
        });
      }
    }
  }
  return out;
}

export function install(): void {
  const began = performance.now();
  const yaml = bigWorkflow();
  const json = (body: unknown, status = 200) => Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
  window.fetch = (input: RequestInfo | URL): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, location.href);
    const p = url.pathname.replace(/^\/api\/v1/, '');
    const now = new Date().toISOString();
    if (p === '/session') return json({ auth: 'session', role: 'admin', token_name: 'bench', csrf_token: 'x', expires_at: null });
    if (p === '/workflows') return json({ workflows: [{ name: 'big', latest_revision: 1, created_at: now, updated_at: now }] });
    if (p === '/workflows/big' || p === '/workflows/big/revisions/1') return json({ name: 'big', revision: 1, created_at: now, yaml });
    if (p === '/workflows/big/revisions') return json({ name: 'big', revisions: [{ revision: 1, created_at: now }] });
    if (p === '/runs') return json({ runs: [], next: null });
    if (p === '/components' ) return json({ components: [] });
    if (p === '/validate') return json({ valid: true, kind: 'workflow', diagnostics: [], graph: null });
    if (p === '/secrets') return json({ secrets: [] });
    if (p === '/runs/bench') {
      const t = performance.now() - began;
      const steps = stepsAt(t);
      const done = steps.every((s) => s.status === 'succeeded');
      const run: RunView = { id: 'bench', workflow: 'big', status: done ? 'succeeded' : 'running', started_at: now, finished_at: null, outputs: {}, steps, inputs: { who: 'world' }, revision: 1, trigger: { event: 'api' }, parent: null, created_at: now, error: null };
      return json(run);
    }
    return json({ error: { code: 'not_found', message: p, details: null } }, 404);
  };
  // The log stream: on connecting, a backlog of 5,000 lines of `s0-a0` (a long log the server
  // replays); then 300 lines a second: 200 across the running stage's steps and 100 more of
  // `s0-a0` (a chatty step whose log is open in the benchmark).
  class FakeSource extends EventTarget {
    static readonly CLOSED = 2;
    readyState = 1;
    onopen: (() => void) | null = null;
    onerror: (() => void) | null = null;
    private timer: number;
    private seq = 0;
    private emit(step: string) {
      this.seq += 1;
      const line: LogLine = { seq: this.seq, step, action: step, attempt: 1, stream: 'stdout', ts: new Date().toISOString(), text: `line ${this.seq} of the benchmark log: ${step} is doing its work` };
      this.dispatchEvent(new MessageEvent('log', { data: JSON.stringify(line) }));
    }
    constructor() {
      super();
      // The backlog arrives in chunks of 500 lines, as it would from the network.
      for (let c = 0; c < BACKLOG; c += 500) {
        window.setTimeout(() => {
          for (let i = 0; i < 500; i++) this.emit('s0-a0');
        }, 0);
      }
      this.timer = window.setInterval(() => {
        const t = performance.now() - began;
        const st = Math.min(STAGES - 1, Math.floor(t / 2000));
        for (let i = 0; i < 20; i++) this.emit(`s${st}-a${i % PER_STAGE}`);
        for (let i = 0; i < 10; i++) this.emit('s0-a0');
      }, 100);
    }
    close() {
      window.clearInterval(this.timer);
      this.readyState = 2;
    }
  }
  (window as unknown as { EventSource: unknown }).EventSource = FakeSource;
}
