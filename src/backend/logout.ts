import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { ASYMMETRIC_ALGS } from '../token/algs.js';
import { checkIssuer, checkSignature, type VerifyFailureReason } from '../token/id-token.js';
import { checkIssuerSettings, issuerKeys, KeysUnavailable, type IssuerKeysOptions } from './keys.js';
import type { ExchangeResult } from './handler.js';
import type { Sessions } from './sessions.js';
import { SessionStoreUnavailable } from './store.js';
import { UNAVAILABLE_REASONS } from './verifier.js';

/**
 * OpenID Connect Back-Channel Logout 1.0: the IdP POSTs a `logout_token` when a user's session
 * there ends (they logged out, an admin ended it), and the backend ends the CLI sessions minted
 * from it. The checks are §2.6's, in its order; the `jti` is recorded last, so that a token
 * refused for another reason does not use it up.
 */

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export type LogoutRefusalReason =
  | 'malformed'
  | 'alg_not_allowed'
  | 'not_a_logout_token'
  | 'bad_signature'
  | 'kid_unknown'
  | 'issuer_mismatch'
  | 'audience_not_allowed'
  | 'iat_invalid'
  | 'expired'
  | 'events_missing'
  | 'subject_missing'
  | 'nonce_present'
  | 'jti_missing'
  | 'jti_reused';

export interface BackChannelLogoutOptions extends IssuerKeysOptions {
  /** The client ids the IdP sends logout tokens for (the CLI's client among them): the `aud`. */
  clientIds: readonly string[];
  sessions: Sessions;
  clockToleranceSec?: number;
  /** A logout token issued longer ago than this is refused (seconds; default 300). */
  maxAgeSec?: number;
  /** Told why a logout token was refused (for the log); the IdP only gets `invalid_request`. */
  onRefused?(reason: LogoutRefusalReason | VerifyFailureReason, message: string): void;
  /** Told of each logout done: the `sid` or `sub`, and how many sessions ended. */
  onLogout?(event: { sid?: string; sub?: string; ended: number }): void;
  onError?(error: unknown): void;
  /** Largest request body accepted (bytes); default 16 KiB. */
  maxBodyBytes?: number;
}

/** An answer to send, in the same shape as the exchange handler's. */
export type LogoutResult = ExchangeResult;

/** The `node:http` handler, with `receive(logoutToken)` for any other framework. */
export interface BackChannelLogoutHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  receive(logoutToken: unknown): Promise<LogoutResult>;
}

const result = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): LogoutResult => ({
  status,
  body,
  headers: { 'cache-control': 'no-store', ...headers },
});
const INVALID = () => result(400, { error: 'invalid_request' });

type Verdict =
  | { ok: true; claims: JWTPayload }
  | { ok: false; reason: LogoutRefusalReason | VerifyFailureReason; message: string; unavailable?: boolean };
const refuse = (reason: LogoutRefusalReason, message: string): Verdict => ({ ok: false, reason, message });

/**
 * `POST` with `logout_token=…` (form): ends the sessions of the token's `sid` (or, without one,
 * every session of its `sub`) and answers 200 with `Cache-Control: no-store`; a token that fails
 * a check is 400 `{"error":"invalid_request"}`. The issuer's keys are cached as the verifiers'.
 */
export function createBackChannelLogoutHandler(options: BackChannelLogoutOptions): BackChannelLogoutHandler {
  const where = 'createBackChannelLogoutHandler';
  checkIssuerSettings(where, options);
  if (!Array.isArray(options.clientIds) || options.clientIds.length === 0)
    throw new TypeError(`${where}: clientIds must list the client ids the IdP sends logout tokens for`);
  if (!options.sessions || typeof options.sessions.endLogin !== 'function')
    throw new TypeError(`${where}: sessions must be the backend's sessions (createSessions())`);
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSec ?? 60;
  const maxAge = options.maxAgeSec ?? 300;
  const clients = new Set(options.clientIds);
  const limit = options.maxBodyBytes ?? 16 * 1024;
  const { keys } = issuerKeys(options);

  async function verify(token: string): Promise<Verdict> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return refuse('malformed', 'not a compact JWS');
    }
    if (typeof header.alg !== 'string' || !ASYMMETRIC_ALGS.includes(header.alg))
      return refuse('alg_not_allowed', `alg ${String(header.alg)} is not allowed (asymmetric only)`);
    // §2.4: typ logout+jwt is recommended; an access token is never a logout token.
    if (typeof header.typ === 'string' && !/^(application\/)?(logout\+jwt|jwt)$/i.test(header.typ))
      return refuse('not_a_logout_token', `typ ${header.typ} is not a logout token's`);
    const signed = await checkSignature(token, keys, { now: now(), toleranceSec: tolerance });
    if ('ok' in signed) {
      const unavailable = signed.cause instanceof KeysUnavailable || UNAVAILABLE_REASONS.has(signed.reason);
      return { ok: false, reason: signed.reason, message: signed.message, unavailable };
    }
    const { claims } = signed;
    const issuer = checkIssuer(claims, options.issuer);
    if (issuer) return refuse('issuer_mismatch', issuer.message);
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.some((a) => clients.has(a))) return refuse('audience_not_allowed', `aud ${JSON.stringify(aud)} names none of clientIds`);
    const nowSec = Math.floor(now().getTime() / 1000);
    if (typeof claims.iat !== 'number') return refuse('iat_invalid', 'the logout token has no iat');
    if (claims.iat > nowSec + tolerance) return refuse('iat_invalid', 'iat is in the future');
    if (claims.iat < nowSec - maxAge - tolerance) return refuse('iat_invalid', `issued more than ${maxAge} s ago`);
    const events = claims.events as Record<string, unknown> | undefined;
    const event = events !== null && typeof events === 'object' ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (event === null || typeof event !== 'object' || Array.isArray(event))
      return refuse('events_missing', `no events claim with ${BACKCHANNEL_LOGOUT_EVENT}`);
    const sid = typeof claims.sid === 'string' && claims.sid !== '' ? claims.sid : undefined;
    const sub = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
    if (!sid && !sub) return refuse('subject_missing', 'the logout token has neither sid nor sub');
    // §2.4: a nonce is forbidden, so that an id_token can never pass for a logout token.
    if (claims.nonce !== undefined) return refuse('nonce_present', 'a logout token must not have a nonce');
    if (typeof claims.jti !== 'string' || claims.jti === '') return refuse('jti_missing', 'the logout token has no jti');
    const until = (typeof claims.exp === 'number' ? Math.max(claims.exp, claims.iat + maxAge) : claims.iat + maxAge) + tolerance;
    if (await options.sessions.seen(`logout ${options.issuer}`, claims.jti, until))
      return refuse('jti_reused', `the logout token ${claims.jti} was received before`);
    return { ok: true, claims };
  }

  const receive = async (logoutToken: unknown): Promise<LogoutResult> => {
    if (typeof logoutToken !== 'string' || logoutToken === '') {
      options.onRefused?.('malformed', 'no logout_token in the request');
      return INVALID();
    }
    try {
      const verdict = await verify(logoutToken);
      if (!verdict.ok) {
        options.onRefused?.(verdict.reason, verdict.message);
        return verdict.unavailable ? result(503, { error: 'temporarily_unavailable' }, { 'retry-after': '30' }) : INVALID();
      }
      const sid = typeof verdict.claims.sid === 'string' ? verdict.claims.sid : undefined;
      const sub = typeof verdict.claims.sub === 'string' ? verdict.claims.sub : undefined;
      const ended = await options.sessions.endLogin({ issuer: options.issuer, sid, sub }, 'logout');
      options.onLogout?.({ ...(sid ? { sid } : {}), ...(sub ? { sub } : {}), ended });
      return result(200, {});
    } catch (error) {
      options.onError?.(error);
      // The store out of reach: the IdP may try again later (a 5xx), the logout is not refused.
      if (error instanceof SessionStoreUnavailable) return result(503, { error: 'temporarily_unavailable' }, { 'retry-after': '5' });
      return result(500, { error: 'server_error' });
    }
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const send = (answer: LogoutResult) =>
      void res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body));
    if (req.method !== 'POST') return send(result(405, { error: 'invalid_request' }, { allow: 'POST' }));
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const parsed = (req as { body?: unknown }).body;
    if (parsed !== null && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
      void receive((parsed as { logout_token?: unknown }).logout_token).then(send);
      return;
    }
    if (type !== 'application/x-www-form-urlencoded') return send(INVALID());
    readForm(req, limit).then(
      (form) =>
        form === undefined
          ? send(result(413, { error: 'invalid_request' }, { connection: 'close' }))
          : receive(form.get('logout_token')).then(send),
      (error: unknown) => {
        options.onError?.(error);
        send(INVALID());
      },
    );
  };
  return Object.assign(handler, { receive });
}

function readForm(req: IncomingMessage, limit: number): Promise<URLSearchParams | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}
