import { describe, expect, it } from 'vitest';
import { table } from '../../src/io/format.js';
import { parseProfileValue, profileProblems } from '../../src/store/profile-keys.js';

describe('profile values', () => {
  it.each([
    ['issuer', 'not a url', /not a URL/],
    ['issuer', 'http://idp.example.com', /http is only allowed on loopback hosts/],
    ['issuer', 'https://user:pw@idp.example.com', /user name or password/],
    ['issuer', 'ftp://idp.example.com', /https URL/],
    ['redirectUri', 'https://127.0.0.1/callback', /http/],
    ['redirectUri', 'http://example.com:8080/callback', /loopback/],
    ['redirectPorts', '80,abc', /port/],
    ['exchangePath', 'api/cli-auth', /must start with "\/"/],
    ['storage', 'cloud', /auto, keychain, file/],
    ['exchangeEncoding', 'xml', /form, json/],
    ['tokenEnv', 'ACME-KEY', /environment variable/],
    ['colour', 'red', /unknown key "colour"/],
  ])('%s = %j is refused with a reason', (key, raw, reason) => {
    expect(() => parseProfileValue(key, raw)).toThrow(reason);
  });

  it('accepts http issuers on loopback hosts only, and keeps the issuer as written', () => {
    expect(parseProfileValue('issuer', 'http://127.0.0.1:9000').value).toBe('http://127.0.0.1:9000');
    expect(parseProfileValue('issuer', 'http://[::1]:9000/realms/dev').value).toBe('http://[::1]:9000/realms/dev');
    expect(parseProfileValue('issuer', 'https://tenant.auth0.com/').value).toBe('https://tenant.auth0.com/');
  });

  it('takes kebab-case flags and camelCase keys alike, and parses lists', () => {
    expect(parseProfileValue('backend-url', 'https://api.example.com')).toEqual({ key: 'backendUrl', value: 'https://api.example.com' });
    expect(parseProfileValue('audiencePriority', 'a, b ,c')).toEqual({ key: 'audiencePriority', value: ['a', 'b', 'c'] });
    expect(parseProfileValue('redirect-ports', '8085,8086')).toEqual({ key: 'redirectPorts', value: [8085, 8086] });
  });

  it('finds every problem of a hand-edited profile', () => {
    expect(profileProblems({ issuer: 'https://idp.example.com', clientId: 'cli' })).toEqual([]);
    expect(profileProblems({ clientId: 'cli', storage: 'cloud', extra: 1 })).toEqual([
      '"issuer" is missing',
      expect.stringMatching(/storage must be one of/),
      'unknown key "extra"',
    ]);
    expect(profileProblems({ issuer: 'https://idp.example.com', clientId: 'cli', redirectPorts: '8085' })).toEqual([
      '"redirectPorts" has the wrong type',
    ]);
  });

  it('judges a value once across profiles, and still reports it for each profile that has it', () => {
    const seen = new Map<string, Map<string, string | null>>();
    const bad = { issuer: 'http://idp.example.com', clientId: 'cli' };
    expect(profileProblems(bad, seen)).toEqual([expect.stringMatching(/http is only allowed on loopback hosts/)]);
    expect(profileProblems({ ...bad, clientId: 'other' }, seen)).toEqual([expect.stringMatching(/http is only allowed on loopback hosts/)]);
    // The same text under another key is judged by that key's rule.
    expect(profileProblems({ issuer: 'https://idp.example.com', clientId: 'http://idp.example.com' }, seen)).toEqual([]);
    // An array value is judged as an array, whatever a string of the same text was.
    expect(profileProblems({ ...bad, issuer: 'https://idp.example.com', audiencePriority: 'a,b' }, seen)).toEqual([
      '"audiencePriority" has the wrong type',
    ]);
    expect(profileProblems({ ...bad, issuer: 'https://idp.example.com', audiencePriority: ['a', 'b'] }, seen)).toEqual([]);
  });
});

describe('table', () => {
  it('pads every column but the last to its widest cell, two spaces apart, without trailing spaces', () => {
    expect(
      table([
        ['NAME', 'DEFAULT', 'ISSUER'],
        ['prod', '*', 'https://idp.example.com'],
        ['a-much-longer-name', '', ''],
      ]),
    ).toEqual(['NAME                DEFAULT  ISSUER', 'prod                *        https://idp.example.com', 'a-much-longer-name']);
    expect(table([])).toEqual([]);
    expect(table([['only']])).toEqual(['only']);
  });
});
