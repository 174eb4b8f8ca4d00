// ELK in a Web Worker: layered layout, stages as ordered partitions. Deterministic for a given input.
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkInput } from './graphData';

const elk = new ELK();

interface Req {
  id: number;
  graph: ElkInput;
}

self.onmessage = (e: MessageEvent<Req>) => {
  const { id, graph } = e.data;
  elk
    .layout(graph)
    .then((out) => {
      const positions: [string, number, number][] = (out.children ?? []).map((c) => [c.id, c.x ?? 0, c.y ?? 0]);
      self.postMessage({ id, positions });
    })
    .catch((err: unknown) => {
      self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
    });
};
