// `npm run fuzz`: a long fast-check run over `token inspect`'s decoder, classifier, diagnostics
// and renderer (FUZZ_RUNS cases, default 100 000), on arbitrary bytes and JWT-shaped input.
// Every input must end in an inspection (that serializes and renders with no raw control
// characters) or NotAJwtError. Not part of `npm test`: it takes a while.
import fc from 'fast-check';
import { decodeJwt, NotAJwtError, renderInspection } from '../dist/index.js';
import { safeJson } from '../dist/io/text.js';
import { inspect } from '../dist/token/inspect.js';
import { controlText, deepJson, RAW_CONTROLS } from '../dist-dev/dev/hostile-input.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const NOW = new Date('2026-11-22T12:00:00Z');
let decoded = 0;
let refused = 0;

function check(input) {
  let jwt;
  try {
    jwt = decodeJwt(input);
  } catch (error) {
    if (!(error instanceof NotAJwtError)) throw error;
    refused += 1;
    return;
  }
  decoded += 1;
  const result = inspect(jwt, {
    now: NOW,
    expectedIssuer: 'https://idp.example.com',
    clientId: 'cli',
    audiencePriority: ['a', 'b'],
    knownAudiences: ['x'],
  });
  if (RAW_CONTROLS.test(safeJson(result))) throw new Error('raw control character in the --json output');
  for (const line of renderInspection(result, { now: NOW, color: false })) {
    if (RAW_CONTROLS.test(line)) throw new Error(`raw control character in output: ${JSON.stringify(line)}`);
  }
}

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : (JSON.stringify(v) ?? 'null')).toString('base64url');
const value = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string()),
  fc.jsonValue(),
);
const claims = fc.dictionary(
  fc.oneof(
    fc.constantFrom('iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'azp', 'nonce', 'scope', 'events', 'gty', 'client_id', 'typ'),
    fc.string({ unit: 'binary' }),
  ),
  value,
);
const inputs = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 2000 }),
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc
    .array(fc.string({ unit: fc.constantFrom(...'abcXYZ0189-_=+/.'.split('')) }), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join('.')),
  fc
    .tuple(fc.oneof(claims, fc.jsonValue()), fc.oneof(claims, fc.jsonValue()), fc.string())
    .map(([h, c, s]) => `${b64(h)}.${b64(c)}.${b64(s)}`),
  fc
    .tuple(fc.oneof(claims, fc.jsonValue()), fc.array(fc.string(), { minLength: 4, maxLength: 4 }))
    .map(([h, rest]) => [b64(h), ...rest.map(b64)].join('.')),
  fc.tuple(fc.constantFrom('Bearer ', 'bearer  ', 'Authorization: Bearer ', '  '), fc.string()).map(([p, s]) => p + s),
  fc
    .tuple(deepJson(8000), fc.boolean())
    .map(([deep, inHeader]) =>
      inHeader
        ? `${b64(`{"alg":"RS256","x":${deep}}`)}.${b64({ sub: 'x' })}.c2ln`
        : `${b64('{"alg":"RS256"}')}.${b64(`{"sub":"x","deep":${deep}}`)}.c2ln`,
    ),
  fc
    .tuple(fc.dictionary(controlText, fc.oneof(controlText, fc.array(controlText))), controlText)
    .map(([c, kid]) => `${b64({ alg: 'RS256', kid })}.${b64({ iss: kid, aud: kid, ...c })}.c2ln`),
);

const started = Date.now();
fc.assert(fc.property(inputs, check), { numRuns: RUNS });
console.log(
  `fuzz: ${RUNS} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${decoded} decoded and inspected, ${refused} refused as not a JWT, 0 failures`,
);
