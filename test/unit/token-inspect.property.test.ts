import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJwt, NotAJwtError } from '../../src/token/decode.js';
import { inspect } from '../../src/token/inspect.js';
import { renderInspection } from '../../src/token/render.js';
import { safeJson } from '../../src/io/text.js';
import { controlText, deepJson, RAW_CONTROLS } from '../../dev/hostile-input.js';

// `token inspect` reads untrusted input: whatever the bytes, the result is an inspection (which
// also renders, and serializes to JSON) or a NotAJwtError (exit 2). Nothing else may escape.
const NOW = new Date('2026-11-22T12:00:00Z');
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null')).toString('base64url');

function inspectAnything(input: string): void {
  let decoded;
  try {
    decoded = decodeJwt(input);
  } catch (error) {
    expect(error).toBeInstanceOf(NotAJwtError);
    return;
  }
  const result = inspect(decoded, {
    now: NOW,
    expectedIssuer: 'https://idp.example.com',
    clientId: 'cli',
    audiencePriority: ['a', 'b'],
    knownAudiences: ['x'],
  });
  expect(safeJson(result)).not.toMatch(RAW_CONTROLS);
  for (const line of renderInspection(result, { now: NOW, color: true })) {
    expect(line).not.toMatch(/\u001b(?!\[\d+m)/);
    expect(line.replace(/\u001b\[\d+m/g, '')).not.toMatch(RAW_CONTROLS);
  }
}

const claimValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, 1e300, -1e300, 8.64e15, 0, -0),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null))),
  fc.dictionary(fc.string(), fc.jsonValue()),
);
const claims = fc.record(
  {
    iss: claimValue,
    sub: claimValue,
    aud: claimValue,
    exp: claimValue,
    nbf: claimValue,
    iat: claimValue,
    azp: claimValue,
    nonce: claimValue,
    scope: claimValue,
    events: claimValue,
    typ: claimValue,
    gty: claimValue,
    client_id: claimValue,
  },
  { requiredKeys: [] },
);
const header = fc.record({ alg: claimValue, kid: claimValue, typ: claimValue, enc: claimValue }, { requiredKeys: [] });

describe('token inspect on arbitrary input', () => {
  it('arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => inspectAnything(s)),
      { numRuns: 2000 },
    );
  });

  it('arbitrary base64url parts', () => {
    const part = fc.oneof(
      fc.base64String().map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')),
      fc.string({ unit: fc.constantFrom(...'abcXYZ019-_'.split('')) }),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => inspectAnything(parts.join('.'))),
      { numRuns: 2000 },
    );
  });

  it('arbitrary JSON headers and claims', () => {
    fc.assert(
      fc.property(fc.oneof(header, fc.jsonValue()), fc.oneof(claims, fc.jsonValue()), fc.string({ maxLength: 20 }), (h, c, sig) =>
        inspectAnything(`${b64(h)}.${b64(c)}.${b64(sig)}`),
      ),
      { numRuns: 3000 },
    );
  });

  it('arrays and objects nested up to 6,000 deep, in the payload and the header', () => {
    fc.assert(
      fc.property(deepJson(6000), fc.boolean(), (deep, inHeader) =>
        inspectAnything(
          inHeader
            ? `${b64(`{"alg":"RS256","x":${deep}}`)}.${b64({ sub: 'x' })}.c2ln`
            : `${b64('{"alg":"RS256"}')}.${b64(`{"sub":"x","deep":${deep}}`)}.c2ln`,
        ),
      ),
      { numRuns: 300 },
    );
  });

  it('claim names and values made of terminal control characters', () => {
    fc.assert(
      fc.property(fc.dictionary(controlText, fc.oneof(controlText, fc.array(controlText, { maxLength: 3 }))), controlText, (c, kid) =>
        inspectAnything(`${b64({ alg: 'RS256', kid })}.${b64({ iss: kid, aud: kid, ...c })}.c2ln`),
      ),
      { numRuns: 1000 },
    );
  });

  it('arbitrary JWE-shaped input', () => {
    fc.assert(
      fc.property(fc.oneof(header, fc.jsonValue()), fc.array(fc.string(), { minLength: 4, maxLength: 4 }), (h, rest) =>
        inspectAnything([b64(h), ...rest.map(b64)].join('.')),
      ),
      { numRuns: 1000 },
    );
  });
});
