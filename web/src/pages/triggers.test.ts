import { describe, expect, it } from 'vitest';
import { readModel } from '../yaml/model';
import { describeTriggers } from './triggers';

// The example of docs/triggers.md.
const nightly = `name: nightly
inputs:
  who: { type: string, required: true }
  ref: { type: string, default: main }
triggers:
  - cron: "0 3 * * 1-5"
    timezone: Europe/Berlin
    inputs: { who: nightly }
  - github: { secret: GITHUB_HOOK_SECRET, events: [push, pull_request], branches: [main] }
    inputs:
      who: "\${{ trigger.payload.sender.login }}"
  - gitlab: { secret: GITLAB_TOKEN }
  - webhook: { secret: DEPLOY_TOKEN }
stages:
  - name: build
    actions:
      - name: compile
        image: alpine
`;

describe('triggers in words', () => {
  it('describes schedules and webhooks, with the address a sender posts to', () => {
    const model = readModel(nightly).model;
    expect(describeTriggers(model?.triggers, 'nightly', 'https://ci.example')).toEqual([
      { title: 'Schedule', details: ['cron 0 3 * * 1-5', 'time zone Europe/Berlin'], url: null, inputs: [['who', 'nightly']] },
      {
        title: 'GitHub webhook',
        details: ['events push, pull_request', 'branches main', 'secret GITHUB_HOOK_SECRET'],
        url: 'https://ci.example/api/v1/hooks/nightly/github',
        inputs: [['who', '${{ trigger.payload.sender.login }}']],
      },
      { title: 'GitLab webhook', details: ['events push', 'any branch', 'secret GITLAB_TOKEN'], url: 'https://ci.example/api/v1/hooks/nightly/gitlab', inputs: [] },
      { title: 'Webhook', details: ['secret DEPLOY_TOKEN'], url: 'https://ci.example/api/v1/hooks/nightly/webhook', inputs: [] },
    ]);
  });
  it('shows nothing for no triggers and an unknown form as data', () => {
    expect(describeTriggers(null, 'w', '')).toEqual([]);
    expect(describeTriggers([{ later: 1 }], 'w', '')).toEqual([{ title: 'Trigger', details: ['{"later":1}'], url: null, inputs: [] }]);
  });
});
