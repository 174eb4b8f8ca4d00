// A workflow's `triggers:` in words (docs/triggers.md): what starts its runs, and for webhooks the
// address to give the sender. The server validated them; anything unexpected is shown as data.

export interface TriggerView {
  /** `Schedule`, `GitHub webhook`, `GitLab webhook`, `Webhook`, or `Trigger` for an unknown form. */
  title: string;
  /** The details in words (schedule and time zone; events, branches and the secret's name). */
  details: string[];
  /** Webhooks: where the sender posts its deliveries. */
  url: string | null;
  /** The inputs the trigger sets, as written. */
  inputs: [string, string][];
}

const HOOKS: Record<string, string> = { github: 'GitHub webhook', gitlab: 'GitLab webhook', webhook: 'Webhook' };

function record(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function list(v: unknown): string {
  return Array.isArray(v) ? v.map(text).join(', ') : text(v);
}

/** `origin`: the server's address as the browser sees it (`location.origin`). */
export function describeTriggers(triggers: unknown, workflow: string, origin: string): TriggerView[] {
  if (!Array.isArray(triggers)) return triggers === null || triggers === undefined ? [] : [{ title: 'Trigger', details: [text(triggers)], url: null, inputs: [] }];
  return triggers.map((t): TriggerView => {
    const r = record(t);
    const inputs: [string, string][] = Object.entries(record(r?.inputs) ?? {}).map(([k, v]) => [k, text(v)]);
    if (r && typeof r.cron === 'string') {
      return { title: 'Schedule', details: [`cron ${r.cron}`, `time zone ${typeof r.timezone === 'string' ? r.timezone : 'UTC'}`], url: null, inputs };
    }
    const kind = r ? Object.keys(HOOKS).find((k) => k in r) : undefined;
    const hook = kind && r ? record(r[kind]) : null;
    if (kind && hook) {
      const details: string[] = [];
      if (kind !== 'webhook') {
        details.push(`events ${hook.events === undefined ? 'push' : list(hook.events)}`);
        details.push(hook.branches === undefined ? 'any branch' : `branches ${list(hook.branches)}`);
      }
      details.push(`secret ${text(hook.secret)}`);
      return { title: HOOKS[kind] ?? kind, details, url: `${origin}/api/v1/hooks/${encodeURIComponent(workflow)}/${kind}`, inputs };
    }
    return { title: 'Trigger', details: [text(t)], url: null, inputs };
  });
}
