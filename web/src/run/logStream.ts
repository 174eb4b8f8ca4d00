// The live log of a run: Server-Sent Events with the session cookie. EventSource reconnects by
// itself with Last-Event-ID; lines are kept by their per-run `seq`, so a reconnect can neither
// leave a gap nor show a line twice.
import type { LogLine } from '../api/types';

/** Log lines plus a version that changes when lines arrive; components subscribe to it. */
export class LogStore {
  buffer = new LogBuffer();
  version = 0;
  state = 'connecting';
  private listeners = new Set<() => void>();
  subscribe = (cb: () => void): (() => void) => {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  };
  getVersion = (): number => this.version;
  notify(): void {
    this.version += 1;
    for (const l of this.listeners) l();
  }
}

export class LogBuffer {
  readonly lines: LogLine[] = [];
  /** The same lines by step key. */
  readonly byStep = new Map<string, LogLine[]>();
  /** The highest `seq` held; lines arrive in order, so everything up to it is here. */
  last = 0;

  /** Adds a line; false if it was a duplicate. A gap (seq > last + 1) is reported to the caller. */
  add(line: LogLine): 'added' | 'duplicate' | 'gap' {
    if (line.seq <= this.last) return 'duplicate';
    if (line.seq !== this.last + 1) return 'gap';
    this.lines.push(line);
    const l = this.byStep.get(line.step);
    if (l) l.push(line);
    else this.byStep.set(line.step, [line]);
    this.last = line.seq;
    return 'added';
  }
}

export interface StreamHandlers {
  onLines: () => void;
  onEnd: (status: string) => void;
  onState: (state: 'live' | 'reconnecting' | 'ended' | 'error') => void;
}

/** Follows `/api/v1/runs/ID/logs/stream` from after `buffer.last`. Returns a stop function. */
export function followLogs(runId: string, buffer: LogBuffer, h: StreamHandlers, makeSource: (url: string) => EventSource = (u) => new EventSource(u, { withCredentials: true })): () => void {
  let es: EventSource | null = null;
  let stopped = false;
  let pending = false;
  const flush = () => {
    pending = false;
    h.onLines();
  };
  const open = () => {
    const url = `/api/v1/runs/${encodeURIComponent(runId)}/logs/stream${buffer.last > 0 ? `?after=${buffer.last}` : ''}`;
    es = makeSource(url);
    es.onopen = () => { h.onState('live'); };
    es.addEventListener('log', (ev) => {
      const line = JSON.parse((ev as MessageEvent<string>).data) as LogLine;
      const r = buffer.add(line);
      if (r === 'gap') {
        // Reopen from what we hold: the server resends from there.
        es?.close();
        if (!stopped) open();
        return;
      }
      if (r === 'added' && !pending) {
        pending = true;
        setTimeout(flush, 50);
      }
    });
    es.addEventListener('end', (ev) => {
      const data = JSON.parse((ev as MessageEvent<string>).data) as { status?: string };
      es?.close();
      flush();
      h.onState('ended');
      h.onEnd(data.status ?? '');
    });
    es.onerror = () => {
      if (stopped) return;
      if (es?.readyState === EventSource.CLOSED) {
        h.onState('error');
        // Retry from what we hold after a pause (EventSource gave up, e.g. a proxy closed it).
        setTimeout(() => {
          if (!stopped) open();
        }, 2000);
      } else h.onState('reconnecting');
    };
  };
  open();
  return () => {
    stopped = true;
    es?.close();
  };
}
