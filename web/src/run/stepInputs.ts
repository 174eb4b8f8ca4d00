// What the run page shows as a step's inputs: the values it was launched with, as the server
// recorded them (a `secret`-typed input is `***`, and every known secret inside another value is
// masked by the server before it is stored); before its first launch, the `with:` of the
// workflow as written (references, not values; `${{ secrets.… }}` shown as `***`).
import type { StepView } from '../api/types';
import { baseName } from '../graph/runState';
import type { WorkflowModel } from '../yaml/model';

export interface StepInputs {
  /** `launched`: the values of its last launch; `written`: the workflow's `with:` as written. */
  source: 'launched' | 'written';
  entries: [string, string][];
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function stepInputs(model: WorkflowModel | null, step: StepView): StepInputs {
  const launched = Object.entries(step.inputs);
  if (launched.length > 0 || step.attempts > 0) {
    return { source: 'launched', entries: launched.map(([k, v]) => [k, text(v)]) };
  }
  const action = model?.actions.find((x) => x.id === baseName(step.key || step.action));
  const written: [string, string][] = Object.entries(action?.with ?? {}).map(([k, v]) => {
    const s = text(v);
    return [k, /\$\{\{\s*secrets\./.test(s) ? '***' : s];
  });
  return { source: 'written', entries: written };
}
