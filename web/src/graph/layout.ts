// Talks to the layout worker. One worker for the page; answers for stale requests are dropped.
import type { ElkInput } from './graphData';

type Answer = { id: number; positions: [string, number, number][] } | { id: number; error: string };

let worker: Worker | null = null;
let next = 1;
const waiting = new Map<number, (a: Answer) => void>();

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<Answer>) => {
      const cb = waiting.get(e.data.id);
      waiting.delete(e.data.id);
      cb?.(e.data);
    };
  }
  return worker;
}

/** Positions of the action nodes, by id. */
export function layoutInWorker(graph: ElkInput): Promise<Map<string, { x: number; y: number }>> {
  const id = next++;
  return new Promise((resolve, reject) => {
    waiting.set(id, (a) => {
      if ('error' in a) reject(new Error(a.error));
      else resolve(new Map(a.positions.map(([n, x, y]) => [n, { x, y }])));
    });
    getWorker().postMessage({ id, graph });
  });
}
