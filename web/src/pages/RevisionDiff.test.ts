import { describe, expect, it } from 'vitest';
import { readModel, type WorkflowModel } from '../yaml/model';
import { graphDiff } from './RevisionDiff';

const A = `name: w
stages:
  - name: build
    actions:
      - name: compile
        image: busybox
      - name: lint
        image: busybox
  - name: test
    actions:
      - name: unit
        image: busybox
        command: [sh, -c, "true"]
`;

function model(text: string): WorkflowModel {
  const m = readModel(text).model;
  if (!m) throw new Error('does not parse');
  return m;
}

describe('revision graph diff', () => {
  it('marks added and changed actions and names removed ones', () => {
    const B = A.replace('      - name: lint\n        image: busybox\n', '').replace('"true"', '"false"') + '      - name: smoke\n        image: alpine\n';
    const d = graphDiff(model(A), model(B), A, B);
    expect([...d.marks]).toEqual([
      ['unit', 'changed'],
      ['smoke', 'added'],
    ]);
    expect(d.removed).toEqual(['lint']);
    expect(d.renamed).toEqual([]);
  });
  it('tells a rename from a removal and an addition', () => {
    const B = A.replace('name: compile', 'name: build-c');
    const d = graphDiff(model(A), model(B), A, B);
    expect([...d.marks]).toEqual([['build-c', 'changed']]);
    expect(d.removed).toEqual([]);
    expect(d.renamed).toEqual([['compile', 'build-c']]);
  });
});
