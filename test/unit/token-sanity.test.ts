import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/token/decode.js';
import { inspect } from '../../src/token/inspect.js';
import { renderInspection } from '../../src/token/render.js';

// Decoding that forgives what real tools forgive, and the time and audience sanity checks. These
// tokens are shapes, not stand-ins for any IdP's token (those are the real ones in
// test/fixtures/tokens/): an unsigned header and made-up claims.
const NOW = new Date('2026-11-22T12:00:00Z');
const now = Math.floor(NOW.getTime() / 1000);
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const token = (claims: unknown, header: unknown = { alg: 'ES256', kid: 'k' }) => `${b64(header)}.${b64(claims)}.c2ln`;
const run = (input: string) => inspect(decodeJwt(input), { now: NOW });
const codes = (input: string) => run(input).diagnostics.map((d) => `${d.level}:${d.code}`);
const base = { iss: 'https://idp.example.com/', sub: 'u', aud: 'cli', nonce: 'n' };

describe('decoding forgives what jwt.io and jwt.ms forgive, and says so', () => {
  it('"=" padding and the base64 alphabet (+ and /): decoded, with a warning each', () => {
    const claims = { ...base, iat: now, exp: now + 60, note: '??>>' }; // its base64 holds + and /
    const standard = Buffer.from(JSON.stringify(claims)).toString('base64');
    expect(standard).toMatch(/[+/]/);
    const alphabet = `${b64({ alg: 'ES256' })}.${standard.replace(/=+$/, '')}.c2ln`;
    expect(run(alphabet).claims).toMatchObject({ note: '??>>' });
    expect(codes(alphabet)).toEqual(['warning:base64_alphabet']);
    const padded = `${b64({ alg: 'ES256' })}.${Buffer.from(JSON.stringify({ ...base, iat: now, exp: now + 60, x: 'ab' })).toString('base64url')}==.c2ln`;
    expect(codes(padded)).toEqual(['warning:base64_padding']);
  });

  it('a token wrapped over lines with "=" padding is joined', () => {
    const padded = Buffer.from(JSON.stringify({ ...base, iat: now, exp: now + 60, x: 'a' })).toString('base64');
    const input = `${b64({ alg: 'ES256' })}.\n  ${padded.slice(0, 20)}\n  ${padded.slice(20)}.c2ln`;
    expect(run(input).claims).toMatchObject({ sub: 'u' });
  });

  it('a payload that is not UTF-8 is shown as bytes with a warning, never a crash', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x7b]).toString('base64url');
    const result = run(`${b64({ alg: 'ES256' })}.${bytes}.c2ln`);
    expect(result).toMatchObject({ claims: null, kind: 'unknown', payloadBytes: 'fffe00817b' });
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ level: 'warning', code: 'payload_not_utf8' }));
    const lines = renderInspection(result, { now: NOW, color: false });
    expect(lines).toContain('  fffe00817b');
  });

  it('JSON with bytes that are not UTF-8 inside a string: the claims, the bad bytes as U+FFFD, a warning', () => {
    const json = Buffer.concat([Buffer.from('{"sub":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('","aud":"cli","nonce":"n"}')]);
    const result = run(`${b64({ alg: 'ES256' })}.${json.toString('base64url')}.c2ln`);
    expect(result.claims?.sub).toBe('a\ufffd(');
    expect(result.kind).toBe('id_token');
    expect(result.payloadBytes).toBeUndefined();
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'payload_not_utf8' }));
  });
});

describe('time and audience sanity', () => {
  it('iat after exp, nbf after exp', () => {
    expect(codes(token({ ...base, iat: now - 10, exp: now - 20 }))).toEqual(expect.arrayContaining(['error:iat_after_exp']));
    expect(codes(token({ ...base, iat: now, nbf: now + 100, exp: now + 50 }))).toEqual(expect.arrayContaining(['error:nbf_after_exp']));
    expect(codes(token({ ...base, iat: now, nbf: now, exp: now + 50 }))).toEqual([]);
  });

  it('iat or auth_time years in the future, and NumericDates in milliseconds', () => {
    const farIat = run(token({ ...base, iat: now + 5 * 365 * 86400, exp: now + 6 * 365 * 86400 }));
    expect(farIat.diagnostics.find((d) => d.code === 'issued_in_future')?.message).toMatch(/years ahead/);
    const farAuth = run(token({ ...base, iat: now, exp: now + 60, auth_time: now + 3 * 365 * 86400 }));
    expect(farAuth.diagnostics.find((d) => d.code === 'auth_time_invalid')).toMatchObject({
      level: 'error',
      message: expect.stringMatching(/by years/),
    });
    expect(codes(token({ ...base, iat: now * 1000, exp: (now + 60) * 1000 }))).toEqual(
      expect.arrayContaining(['warning:numeric_date_milliseconds', 'error:issued_in_future']),
    );
  });

  it('NumericDates as strings: accepted for the time checks, with a warning that strict verifiers refuse them', () => {
    const result = run(token({ ...base, iat: String(now), exp: String(now - 3600), auth_time: `${now}` }));
    expect(result.diagnostics).toContainEqual(
      expect.objectContaining({
        level: 'warning',
        code: 'numeric_date_string',
        message: expect.stringContaining('"exp", "iat", "auth_time"'),
      }),
    );
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'expired' }));
    expect(codes(token({ ...base, iat: 'yesterday', exp: now + 60 }))).toEqual([]);
  });

  it('duplicate audiences', () => {
    const result = run(token({ ...base, aud: ['cli', 'api', 'cli'], azp: 'cli', iat: now, exp: now + 60 }));
    expect(result.audience.all).toEqual(['cli', 'api', 'cli']);
    expect(result.diagnostics).toContainEqual(
      expect.objectContaining({ level: 'warning', code: 'audience_duplicate', message: expect.stringContaining('["cli"]') }),
    );
  });
});

describe('workload identities reach the terminal escaped', () => {
  it('a repository name with terminal controls', () => {
    const result = run(
      token({
        iss: 'https://token.actions.githubusercontent.com',
        sub: 'repo:x',
        aud: 'a',
        repository: 'evil\u001b[2J/repo',
        ref: 'r\u202e',
        iat: now,
        exp: now + 60,
      }),
    );
    expect(result.identity).toMatchObject({ repository: 'evil\u001b[2J/repo' });
    const identityLine = renderInspection(result, { now: NOW, color: false }).find((l) => l.startsWith('Identity'))!;
    expect(identityLine).toBe('Identity   repository evil\\u001b[2J/repo, ref r\\u202e');
  });
});
