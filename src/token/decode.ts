import { UsageError } from '../errors.js';

/** Tokens longer than this are refused before any parsing (a JWT is a few kB at most). */
export const MAX_TOKEN_LENGTH = 64 * 1024;

/**
 * Deepest nesting of arrays and objects accepted in a header or payload. Real claims nest two or
 * three levels; 5,000 levels in 13 kB would overflow the stack of whatever walks them next
 * (rendering, JSON output).
 */
export const MAX_JSON_DEPTH = 32;

export type JsonObject = Record<string, unknown>;

export interface DecodedJwt {
  /** `jws` (3 parts) or `jwe` (5 parts: only the header is readable). */
  format: 'jws' | 'jwe';
  header: JsonObject;
  /** The payload's claims; `null` for a JWE, and for a payload that is bytes rather than UTF-8 JSON. */
  claims: JsonObject | null;
  /** The compact serialization as given (after trimming). */
  compact: string;
  /** What the decoder forgave to read the token (`=` padding, a base64 alphabet, bytes that are not UTF-8). */
  notes?: DecodeNote[];
  /** The payload as hex when it is not UTF-8 JSON (shown as bytes instead of claims). */
  payloadBytes?: string;
}

/** Something real tools forgive and latchkey forgave too, said as a warning: a strict verifier refuses it. */
export interface DecodeNote {
  code: 'base64_padding' | 'base64_alphabet' | 'payload_not_utf8';
  message: string;
}

/** Exit 2: the input is not a JWT. The message says exactly what is wrong with it. */
export class NotAJwtError extends UsageError {
  constructor(why: string) {
    super(`not a JWT: ${why}`, { code: 'not_a_jwt', hint: 'Pass a compact JWT (header.payload.signature), as an argument or on stdin.' });
  }
}

/**
 * A token as people paste it: surrounding whitespace, quotes ("…", '…', `…`), an
 * `Authorization: Bearer` prefix (from a log or curl -v), and a JWT wrapped over several lines
 * (a terminal, an e-mail) are taken off. An opaque token keeps any whitespace inside it, for the
 * caller to refuse with a reason.
 */
export function normalizeTokenInput(text: string): string {
  let token = text.trim();
  for (let round = 0; round < 2; round += 1) {
    const quoted = /^(["'`])([\s\S]*)\1$/.exec(token);
    if (quoted) token = quoted[2]!.trim();
    const bearer = /^(?:authorization:\s*)?bearer\s+/i.exec(token);
    if (bearer) token = token.slice(bearer[0].length).trim();
  }
  // A JWT's parts never hold whitespace: one found between base64url characters is a line wrap.
  // Documentation prints tokens with `=` padding, and some tools with the +/ alphabet: those join too.
  if (/\s/.test(token) && /^[A-Za-z0-9_\-.=+/\s]+$/.test(token) && token.replace(/\s+/g, '').split('.').length >= 3)
    token = token.replace(/\s+/g, '');
  return token;
}

/** Why a pasted token cannot be used as it is, and what to strip; undefined when it is fine. */
export function pastedTokenProblem(token: string): string | undefined {
  const at = token.search(/\s/);
  if (at >= 0)
    return (
      `the token contains whitespace (character ${at + 1}); give exactly one token:` +
      ` strip spaces and line breaks, quotes and any "Authorization: Bearer" prefix`
    );
  return undefined;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** What jwt.io and jwt.ms also read: base64url or base64 (`+`, `/`), with or without `=` padding. */
const LENIENT_BASE64 = /^[A-Za-z0-9_\-+/]*={0,2}$/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

type SegmentName = 'header' | 'payload';

/**
 * One segment's bytes. RFC 7515 §2 forbids padding and the +/ alphabet, but Microsoft's
 * documentation prints its sample tokens with `=` padding and jwt.ms decodes them: latchkey reads
 * them too, and says so (a strict verifier refuses the token as it is).
 */
function segmentBytes(segment: string, name: SegmentName, notes: DecodeNote[]): Buffer {
  if (!BASE64URL.test(segment)) {
    if (!LENIENT_BASE64.test(segment)) throw new NotAJwtError(`the ${name} is not base64url`);
    if (/=$/.test(segment))
      notes.push({
        code: 'base64_padding',
        message: `the ${name} carries "=" padding, which JWS (RFC 7515 §2) forbids: decoded as jwt.ms does, but strict verifiers refuse the token as it is`,
      });
    if (/[+/]/.test(segment))
      notes.push({
        code: 'base64_alphabet',
        message: `the ${name} uses the base64 "+" and "/" characters instead of base64url's "-" and "_": decoded, but strict verifiers refuse the token as it is`,
      });
  }
  const unpadded = segment.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) throw new NotAJwtError(`the ${name} is not valid base64url (bad length)`);
  return Buffer.from(unpadded.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
}

/** Parse a segment's bytes as a JSON object (spaces around colons, escaped slashes and line breaks are plain JSON). */
function parseObject(text: string, name: SegmentName): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new NotAJwtError(`${name} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new NotAJwtError(`${name} is not a JSON object`);
  if (exceedsDepth(value, MAX_JSON_DEPTH))
    throw new NotAJwtError(`the ${name} nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels, which no real token does`);
  return value as JsonObject;
}

function decodeSegment(segment: string, name: SegmentName, notes: DecodeNote[]): JsonObject {
  return parseObject(segmentBytes(segment, name, notes).toString('utf8'), name);
}

/** Longest payload shown as hex when it is not UTF-8 JSON. */
const MAX_PAYLOAD_BYTES_SHOWN = 4096;

/**
 * The payload: claims when it is UTF-8 JSON. Bytes that are not UTF-8 are shown, never a crash:
 * as claims (the bad bytes replaced by U+FFFD) when the rest is a JSON object, else as hex.
 */
function decodePayload(segment: string, notes: DecodeNote[]): { claims: JsonObject | null; payloadBytes?: string } {
  const bytes = segmentBytes(segment, 'payload', notes);
  try {
    return { claims: parseObject(STRICT_UTF8.decode(bytes), 'payload') };
  } catch (error) {
    if (error instanceof NotAJwtError) throw error;
  }
  const hex = bytes.subarray(0, MAX_PAYLOAD_BYTES_SHOWN).toString('hex') + (bytes.length > MAX_PAYLOAD_BYTES_SHOWN ? '…' : '');
  let claims: JsonObject | null = null;
  try {
    claims = parseObject(bytes.toString('utf8'), 'payload');
  } catch {
    claims = null;
  }
  notes.push({
    code: 'payload_not_utf8',
    message:
      claims === null
        ? `the payload is ${bytes.length} bytes that are not UTF-8 text (a JWT's claims are UTF-8 JSON, RFC 7519 §7.2): shown as bytes`
        : 'the payload is not valid UTF-8 (RFC 7519 §7.2): the bad bytes are shown as U+FFFD; strict verifiers refuse the token',
  });
  return claims === null ? { claims, payloadBytes: hex } : { claims };
}

/** Whether `value` nests deeper than `limit` levels; iterative, so any depth is measured safely. */
function exceedsDepth(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > limit) return true;
    for (const child of Object.values(node as object)) if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * Decode a compact JWS or JWE without verifying anything. Any input ends in a result or a
 * `NotAJwtError`; nothing else is thrown.
 */
export function decodeJwt(input: string): DecodedJwt {
  const compact = normalizeTokenInput(input);
  if (compact.length === 0) throw new NotAJwtError('the input is empty');
  const pasted = pastedTokenProblem(compact);
  if (pasted) throw new NotAJwtError(pasted);
  if (compact.length > MAX_TOKEN_LENGTH)
    throw new NotAJwtError(`the input is ${compact.length} characters long (at most ${MAX_TOKEN_LENGTH})`);
  // Google's OAuth access tokens are opaque by design: say what it is rather than what it is not.
  if (/^ya29\./.test(compact))
    throw new NotAJwtError(
      'this is a Google OAuth access token (ya29.…), opaque by design:' +
        ' only Google can read it.' +
        ' Inspect the id_token instead, the JWT of a Google login',
    );
  const parts = compact.split('.');
  if (parts.length !== 3 && parts.length !== 5) {
    throw new NotAJwtError(`expected 3 dot-separated parts (or 5 for an encrypted JWT), got ${parts.length}`);
  }
  const notes: DecodeNote[] = [];
  const header = decodeSegment(parts[0]!, 'header', notes);
  if (parts.length === 5) return { format: 'jwe', header, claims: null, compact, ...(notes.length ? { notes } : {}) };
  const payload = decodePayload(parts[1]!, notes);
  if (!LENIENT_BASE64.test(parts[2]!)) throw new NotAJwtError('the signature is not base64url');
  return { format: 'jws', header, ...payload, compact, ...(notes.length ? { notes } : {}) };
}

/** The claims of a JWT-shaped string, or `undefined` for anything else (opaque API keys). */
export function peekClaims(token: string): JsonObject | undefined {
  try {
    return decodeJwt(token).claims ?? undefined;
  } catch {
    return undefined;
  }
}

/** `aud` as a set: a string becomes one member; anything but strings is dropped. */
export function audiences(claims: JsonObject): string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/**
 * A NumericDate (RFC 7519 §2): a JSON number of seconds. Some issuers send it as a string of
 * digits (Apple's and some SDKs' `iat`, `auth_time`): read here, with a warning, because strict
 * verifiers refuse it.
 */
export function numericDate(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*\d{1,16}(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}
