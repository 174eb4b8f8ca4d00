// The workflow model of a text, for pages that only show it (workflow, run, revision diff): big
// texts are parsed in a Web Worker so the page stays responsive; small ones right away. A
// seed-format flow's graph is the server's (see graphModel.ts).
import { useEffect, useMemo, useState } from 'react';
import { api } from '../api/client';
import type { WorkflowGraphView } from '../api/types';
import { modelFromGraph } from './graphModel';
import { readModel, type ModelResult } from './model';

/** Texts up to this many characters are parsed on the main thread (a few ms). */
export const SYNC_LIMIT = 16_000;

let worker: Worker | null = null;
let next = 1;
const waiting = new Map<number, (r: ModelResult) => void>();

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./model.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<{ id: number; result: ModelResult }>) => {
      const cb = waiting.get(e.data.id);
      waiting.delete(e.data.id);
      cb?.(e.data.result);
    };
  }
  return worker;
}

/** The model of `text`, parsed in the worker. */
export function readModelInWorker(text: string): Promise<ModelResult> {
  const id = next++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    getWorker().postMessage({ id, text });
  });
}

/** The model of `text` (null while a big one is being parsed, or when there is no text). */
export function useModelOf(text: string | null): ModelResult | null {
  const small = text !== null && text.length <= SYNC_LIMIT;
  const [big, setBig] = useState<{ text: string; result: ModelResult } | null>(null);
  const sync = useMemo(() => (text !== null && small ? readModel(text) : null), [text, small]);
  useEffect(() => {
    if (text === null || small) return;
    let stale = false;
    void readModelInWorker(text).then((result) => {
      if (!stale) setBig({ text, result });
    });
    return () => {
      stale = true;
    };
  }, [text, small]);
  if (text === null) return null;
  if (sync) return sync;
  return big?.text === text ? big.result : null;
}

/**
 * The model a page shows for a stored text: `useModelOf(text)`, except for a seed-format flow,
 * whose graph comes from the server (`graphPath`: `/workflows/NAME/graph?revision=N` or
 * `/runs/ID/graph`). Null while loading.
 */
export function useShownModel(text: string | null, graphPath: string | null): ModelResult | null {
  const parsed = useModelOf(text);
  const seed = parsed?.model?.format === 'seed';
  const [graph, setGraph] = useState<{ path: string; result: ModelResult } | null>(null);
  useEffect(() => {
    if (!seed || !graphPath || text === null) return;
    const ctl = new AbortController();
    const lines = text.split('\n').length;
    api
      .get<WorkflowGraphView>(graphPath, { signal: ctl.signal })
      .then((g) => {
        setGraph({ path: graphPath, result: { model: modelFromGraph(g, lines), error: null } });
      })
      .catch((e: unknown) => {
        if (!ctl.signal.aborted) setGraph({ path: graphPath, result: { model: parsed.model, error: { line: 1, message: e instanceof Error ? e.message : String(e) } } });
      });
    return () => {
      ctl.abort();
    };
    // `parsed` only matters through `seed` (and as what to show if the server cannot answer).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [seed, graphPath, text]);
  if (!seed) return parsed;
  return graph?.path === graphPath ? graph.result : null;
}
