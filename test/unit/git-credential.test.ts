import { describe, expect, it } from 'vitest';
import { gitCredentialAnswer, parseCredentialRequest, type RejectedTokens } from '../../src/index.js';

// The git-credential handler of the library: git's protocol, and a refused token renewed once.
describe('gitCredentialAnswer', () => {
  it('answers get, keeps nothing on store, and renews the token git reported as refused', async () => {
    const marks = new Map<string, string>();
    const rejected: RejectedTokens = { get: (n) => marks.get(n), set: (n, v) => (v === undefined ? marks.delete(n) : marks.set(n, v)) };
    let current = 'token-1';
    const renewals: boolean[] = [];
    const deps = {
      profileName: 'code',
      username: 'x-access-token',
      rejected,
      token: (forceRenew: boolean) => {
        renewals.push(forceRenew);
        if (forceRenew) current = 'token-2';
        return Promise.resolve(current);
      },
    };
    const request = parseCredentialRequest('protocol=https\nhost=git.example.com\npath=team/repo.git\n\nignored=after-blank\n');
    expect([...request]).toEqual([
      ['protocol', 'https'],
      ['host', 'git.example.com'],
      ['path', 'team/repo.git'],
    ]);
    expect(await gitCredentialAnswer('get', request, deps)).toBe('username=x-access-token\npassword=token-1\n');
    expect(await gitCredentialAnswer('store', new Map([['password', 'token-1']]), deps)).toBe('');
    expect(await gitCredentialAnswer('erase', new Map([['password', 'token-1']]), deps)).toBe('');
    expect(await gitCredentialAnswer('get', request, deps)).toBe('username=x-access-token\npassword=token-2\n');
    expect(renewals).toEqual([false, false, true]);
    expect(marks.size).toBe(0);
    await expect(gitCredentialAnswer('approve', request, deps)).rejects.toMatchObject({ exitCode: 2 });
  });

  it("never writes a value with a line break or NUL into git's protocol (it would add attributes)", async () => {
    const rejected: RejectedTokens = { get: () => undefined, set: () => undefined };
    const deps = (token: string, username = 'x-access-token') => ({
      profileName: 'code',
      username,
      rejected,
      token: () => Promise.resolve(token),
    });
    const request = parseCredentialRequest('protocol=https\nhost=git.example.com\n');
    for (const [token, username] of [
      ['t\nquit=1', 'u'],
      ['t\0', 'u'],
      ['t', 'u\nurl=https://evil.example'],
    ])
      await expect(gitCredentialAnswer('get', request, deps(token!, username))).rejects.toMatchObject({ exitCode: 2 });
  });
});
