import { describe, expect, it } from 'vitest';
import { createWorkloadVerifier, githubActionsPolicy } from '../../src/backend/index.js';

// The GitHub Actions policy over the documented claim shapes: ids before names, exact refs, and
// no run a fork's change can start with the base repository's identity.
const job = {
  repository: 'octo-org/octo-repo',
  repository_id: '74',
  repository_owner_id: '65',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  environment: 'prod',
  event_name: 'push',
  job_workflow_ref: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main',
};
const policy = githubActionsPolicy({
  repositoryOwnerId: 65,
  repository: 'octo-org/octo-repo',
  repositoryId: '74',
  refs: ['refs/heads/main'],
  environments: ['prod'],
  workflowRefs: [job.job_workflow_ref],
  scopes: ['deploy'],
});

describe('githubActionsPolicy', () => {
  it('admits the configured job as a service named by its ids', () => {
    expect(policy(job)).toEqual({ allow: true, name: 'octo-org/octo-repo', scopes: ['deploy'], clientId: 'github:65/74' });
  });

  it.each([
    [{ repository_owner_id: '66' }, /repository_owner_id "66"/],
    [{ repository_id: '75' }, /repository_id "75"/],
    [{ repository: 'octo-org/other' }, /repository "octo-org\/other"/],
    [{ event_name: 'pull_request_target' }, /pull_request_target/],
    [{ event_name: 'workflow_run' }, /workflow_run/],
    [{ event_name: 'pull_request', ref: 'refs/pull/1/merge' }, /pull_request runs are not admitted/],
    [{ ref: 'refs/tags/main' }, /ref "refs\/tags\/main"/],
    [{ environment: undefined }, /environment null/],
    [{ job_workflow_ref: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/dev' }, /job_workflow_ref/],
  ])('refuses %j', (change, reason) => {
    const verdict = policy({ ...job, ...change });
    expect(verdict).toMatchObject({ allow: false });
    expect((verdict as { reason: string }).reason).toMatch(reason);
  });

  it('refuses a configuration written with names alone', () => {
    expect(() => githubActionsPolicy({ repository: 'octo-org/octo-repo' } as never)).toThrow(/repositoryOwnerId/);
    expect(() => githubActionsPolicy({ repositoryOwnerId: 1, repository: 'octo-repo' })).toThrow(/owner\/name/);
  });
});

describe('createWorkloadVerifier', () => {
  it('throws at start-up on a setting that cannot work', () => {
    expect(() =>
      createWorkloadVerifier({ issuer: 'http://ci.example', audience: 'x', policy: () => ({ allow: false, reason: '' }) }),
    ).toThrow(/https/);
    expect(() =>
      createWorkloadVerifier({ issuer: 'https://ci.example', audience: '', policy: () => ({ allow: false, reason: '' }) }),
    ).toThrow(/audience/);
    expect(() => createWorkloadVerifier({ issuer: 'https://ci.example', audience: 'x' } as never)).toThrow(/policy/);
  });

  it('refuses what is not a signed JWT before fetching any key', async () => {
    const verifier = createWorkloadVerifier({
      issuer: 'https://ci.example',
      audience: 'https://api.example',
      policy: () => ({ allow: true, name: 'n', scopes: [] }),
      fetch: () => Promise.reject(new Error('no network in this test')),
    });
    expect(await verifier('not.a.jwt')).toMatchObject({ ok: false, reason: 'malformed' });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`;
    expect(await verifier(none)).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
  });
});
