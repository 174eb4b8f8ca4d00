// A value typed into a form field for a typed input (`string`, `int`, `float`, `bool`, `json`,
// `secret`), as the value to send or write, or why it is not one. Used by the Run form (workflow
// inputs) and the editor's inspector (component inputs). The server's validator stays the judge;
// this only keeps a form from sending what cannot be right.
import type { Json } from './yaml/patch';

export function typedValue(type: string | null, raw: string, opts: { expressions: boolean }): { value?: Json; problem?: string } {
  if (opts.expressions && raw.includes('${{')) return { value: raw };
  const or = opts.expressions ? ' (or an expression)' : '';
  switch (type) {
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? { value: Number(raw) } : { problem: `must be a whole number${or}` };
    case 'float':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? { value: Number(raw) } : { problem: `must be a number${or}` };
    case 'bool':
      return raw === 'true' || raw === 'false' ? { value: raw === 'true' } : { problem: `must be true or false${or}` };
    case 'json':
      try {
        return { value: JSON.parse(raw) as Json };
      } catch {
        return { problem: `must be JSON${or}` };
      }
    default:
      return { value: raw };
  }
}
