import { describe, expect, it } from 'vitest';
import { readModel } from './yaml/model';
import { convertInput } from './RunForm';

const inputs = readModel(`name: w
inputs:
  who: { type: string, required: true }
  times: { type: int, default: 2 }
  loud: { type: bool }
stages: []
`).model?.inputs ?? {};

describe('the Run form', () => {
  it('is made from the typed inputs', () => {
    expect(Object.keys(inputs)).toEqual(['who', 'times', 'loud']);
    expect(inputs.times).toMatchObject({ type: 'int', default: 2, required: false });
  });
  it('sends typed values, leaves defaults to the server and refuses what cannot be right', () => {
    const who = inputs.who;
    const times = inputs.times;
    if (!who || !times) throw new Error('inputs not read');
    expect(convertInput(who, '')).toEqual({ problem: 'required' });
    expect(convertInput(who, 'team')).toEqual({ value: 'team' });
    expect(convertInput(times, '')).toEqual({});
    expect(convertInput(times, '3')).toEqual({ value: 3 });
    expect(convertInput(times, 'three')).toEqual({ problem: 'must be a whole number' });
  });
});
