import { describe, expect, it } from 'vitest';
import { typedValue } from './typed';

const plain = { expressions: false };
const expr = { expressions: true };

describe('typed form values', () => {
  it('converts each type and says what is wrong', () => {
    expect(typedValue('int', ' 42 ', plain)).toEqual({ value: 42 });
    expect(typedValue('int', '4.2', plain)).toEqual({ problem: 'must be a whole number' });
    expect(typedValue('float', '4.5', plain)).toEqual({ value: 4.5 });
    expect(typedValue('float', 'x', plain)).toEqual({ problem: 'must be a number' });
    expect(typedValue('float', ' ', plain)).toEqual({ problem: 'must be a number' });
    expect(typedValue('bool', 'false', plain)).toEqual({ value: false });
    expect(typedValue('bool', 'yes', plain)).toEqual({ problem: 'must be true or false' });
    expect(typedValue('json', '{"a": [1]}', plain)).toEqual({ value: { a: [1] } });
    expect(typedValue('json', '{', plain)).toEqual({ problem: 'must be JSON' });
    expect(typedValue('string', '42', plain)).toEqual({ value: '42' });
    expect(typedValue(null, 'anything', plain)).toEqual({ value: 'anything' });
  });
  it('lets an input of the editor take an expression instead', () => {
    expect(typedValue('int', '${{ inputs.n }}', expr)).toEqual({ value: '${{ inputs.n }}' });
    expect(typedValue('int', 'n', expr)).toEqual({ problem: 'must be a whole number (or an expression)' });
    expect(typedValue('int', '${{ inputs.n }}', plain)).toEqual({ problem: 'must be a whole number' });
  });
});
