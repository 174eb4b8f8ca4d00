import { describe, expect, it } from 'vitest';
import type { StepView } from '../api/types';
import { readModel } from '../yaml/model';
import { stepInputs } from './stepInputs';

const model = readModel(`name: w
stages:
  - name: s
    actions:
      - name: deploy
        image: busybox
        with: { token: "\${{ secrets.TOKEN }}", who: "\${{ inputs.who }}", n: 3 }
`).model;

const step = (over: Partial<StepView>): StepView => ({
  stage: 's',
  action: 'deploy',
  key: 'deploy',
  status: 'pending',
  attempts: 0,
  exit_code: null,
  outputs: {},
  inputs: {},
  error: null,
  started_at: null,
  finished_at: null,
  attempts_detail: [],
  ...over,
});

describe("a step's inputs", () => {
  it('are the values it was launched with, as the server masked them', () => {
    const got = stepInputs(model, step({ status: 'succeeded', attempts: 1, inputs: { token: '***', who: 'team', n: 3, list: [1, '***'] } }));
    expect(got).toEqual({
      source: 'launched',
      entries: [['token', '***'], ['who', 'team'], ['n', '3'], ['list', '[1,"***"]']],
    });
  });
  it('are the workflow as written before the step starts, with secret references masked', () => {
    expect(stepInputs(model, step({}))).toEqual({
      source: 'written',
      entries: [['token', '***'], ['who', '${{ inputs.who }}'], ['n', '3']],
    });
    expect(stepInputs(null, step({})).entries).toEqual([]);
  });
  it('are none for a launched step without inputs (a seed-format job)', () => {
    expect(stepInputs(model, step({ status: 'running', attempts: 1 }))).toEqual({ source: 'launched', entries: [] });
  });
});
