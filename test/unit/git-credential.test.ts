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
      url: 'https://git.example.com',
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
    expect(await gitCredentialAnswer('erase', new Map([...request, ['username', 'x-access-token'], ['password', 'token-1']]), deps)).toBe(
      '',
    );
    expect(await gitCredentialAnswer('get', request, deps)).toBe('username=x-access-token\npassword=token-2\n');
    expect(renewals).toEqual([false, false, true]);
    expect(marks.size).toBe(0);
    await expect(gitCredentialAnswer('approve', request, deps)).rejects.toMatchObject({ exitCode: 2 });
  });

  it("never writes a value with a line break or NUL into git's protocol (it would add attributes)", async () => {
    const rejected: RejectedTokens = { get: () => undefined, set: () => undefined };
    const deps = (token: string, username = 'x-access-token') => ({
      profileName: 'code',
      url: 'https://git.example.com',
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

  it('answers nothing for a request the helper was not set up for, and nothing without a URL to answer for', async () => {
    const declined: string[] = [];
    const deps = {
      profileName: 'code',
      url: 'https://git.example.com',
      username: 'x-access-token',
      rejected: { get: () => undefined, set: () => undefined },
      token: () => Promise.resolve('t'),
      declined: (why: string) => declined.push(why),
    };
    const ask = (text: string, url?: string) => gitCredentialAnswer('get', parseCredentialRequest(text), { ...deps, url });
    expect(await ask('protocol=https\nhost=git.example.com.evil.example\n', deps.url)).toBe('');
    expect(await ask('protocol=https\nhost=git.example.com\n')).toBe('');
    expect(declined).toEqual(['the request is for another host or port', 'the helper was set up for no URL (run setup git again)']);
    expect(await ask('protocol=https\nhost=git.example.com\n', deps.url)).toBe('username=x-access-token\npassword=t\n');
  });
});
