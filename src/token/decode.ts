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
  /** The payload's claims; `null` for a JWE. */
  claims: JsonObject | null;
  /** The compact serialization as given (after trimming). */
  compact: string;
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
  if (/\s/.test(token) && /^[A-Za-z0-9_\-.\s]+$/.test(token) && token.replace(/\s+/g, '').split('.').length >= 3)
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

function decodeSegment(segment: string, name: string): JsonObject {
  if (!BASE64URL.test(segment)) throw new NotAJwtError(`the ${name} is not base64url`);
  if (segment.length % 4 === 1) throw new NotAJwtError(`the ${name} is not valid base64url (bad length)`);
  const text = Buffer.from(segment, 'base64url').toString('utf8');
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
  const header = decodeSegment(parts[0]!, 'header');
  if (parts.length === 5) return { format: 'jwe', header, claims: null, compact };
  const claims = decodeSegment(parts[1]!, 'payload');
  if (!BASE64URL.test(parts[2]!)) throw new NotAJwtError('the signature is not base64url');
  return { format: 'jws', header, claims, compact };
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
