import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, type Stack } from '../../helpers/stack.js';

// `--min-validity`: a job that runs an hour needs a credential that lasts an hour (oidc-token
// --time). The IdP's access tokens live 2 minutes here.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ idp: { accessTokenTtl: 120 } });
});
afterAll(() => stack.close());

describe('token --min-validity', () => {
  it('renews first when the credential would not last that long; exit 3 when even a renewed one cannot, saying until when', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login', '--timeout', '30'])).code).toBe(0);
    const first = (await setup.run(['token'])).stdout.trim();
    // It lasts 30 s more: no renewal.
    expect((await setup.run(['token', '--min-validity', '30'])).stdout.trim()).toBe(first);
    // 100 s is more than it has left after the default margin would renew it? It has ~120 s: still no renewal.
    const long = await setup.run(['token', '--min-validity', '100']);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout.trim()).toBe(first);
    // An hour: renewed first, and still only 2 minutes long: exit 3, and why.
    const hour = await setup.run(['token', '--min-validity', '3600']);
    expect(hour.code).toBe(3);
    expect(hour.stderr).toMatch(
      /the credential of profile "demo" lasts until \S+ \(in (1|2) min\), less than the 3600 s asked for \(--min-validity\), even renewed/,
    );
    expect(hour.stdout).toBe('');
    // It was renewed all the same (the renewed one is stored).
    const after = (await setup.run(['token'])).stdout.trim();
    expect(after).not.toBe(first);
    for (const args of [
      ['token', '--output', 'exec-credential', '--min-validity', '3600'],
      ['exec', '--min-validity', '3600', '--', 'true'],
    ]) {
      const result = await setup.run(args);
      expect(result.code, args.join(' ')).toBe(3);
      expect(result.stderr).toContain('less than the 3600 s asked for (--min-validity)');
    }
    const bad = await setup.run(['token', '--min-validity', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--min-validity takes a number of seconds, got "soon"');
  });
});
