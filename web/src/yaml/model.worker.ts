// Reads workflow models off the main thread (a 1,000-action file takes the `yaml` parser a
// while); the answer is structured-cloned back (see modelAsync.ts).
import { readModel } from './model';

self.onmessage = (e: MessageEvent<{ id: number; text: string }>) => {
  const { id, text } = e.data;
  self.postMessage({ id, result: readModel(text) });
};
