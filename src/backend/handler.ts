import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import type { IdTokenVerifier, VerifyFailureReason } from './verifier.js';

export interface MintedSession {
  token: string;
  /** When the session ends: a Date, an ISO string or epoch seconds. */
  expiresAt?: Date | string | number;
}

export interface CliAuthHandlerOptions<User> {
  verifier: IdTokenVerifier;
  /** Map the verified claims (`sub`, `email`, …) to one of your users; null refuses the login. */
  findUser(claims: JWTPayload): Promise<User | null> | User | null;
  mintSession(user: User, claims: JWTPayload): Promise<MintedSession> | MintedSession;
  /** How the user is shown in the answer (default: `{ sub, email }` from the claims). */
  describeUser?(user: User, claims: JWTPayload): unknown;
  /** Told why a login was refused; the reason is never sent to the client. */
  onRefused?(reason: VerifyFailureReason | 'unknown_user', message: string): void;
  /** Largest request body accepted (bytes); default 16 KiB. */
  maxBodyBytes?: number;
}

/**
 * `POST /api/cli-auth`: a plain `node:http` handler that trades a CLI's id_token (form
 * `token=…` or JSON `{"token": …}`) for a session of this backend. Answers
 * `{token, expires_at, user}`, or `403 {"error":"Bad credentials"}` whatever the reason, which
 * goes to `onRefused` (the log) and not to the caller.
 */
export function createCliAuthHandler<User>(options: CliAuthHandlerOptions<User>): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = options.maxBodyBytes ?? 16 * 1024;
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded' && type !== 'application/json') {
      return send(res, 415, { error: 'send application/x-www-form-urlencoded or application/json' });
    }
    const body = await readBody(req, limit);
    if (body === undefined) return send(res, 413, { error: 'request body too large' }, { connection: 'close' });

    let token: unknown;
    if (type === 'application/json') {
      try {
        token = (JSON.parse(body) as { token?: unknown } | null)?.token;
      } catch {
        return send(res, 400, { error: 'invalid JSON' });
      }
    } else {
      token = new URLSearchParams(body).get('token');
    }
    if (typeof token !== 'string' || token === '') return send(res, 400, { error: 'token required' });

    const verified = await options.verifier(token);
    if (!verified.ok) {
      options.onRefused?.(verified.reason, verified.message);
      return send(res, 403, { error: 'Bad credentials' });
    }
    const user = await options.findUser(verified.claims);
    if (user === null || user === undefined) {
      options.onRefused?.('unknown_user', `no user for sub ${String(verified.claims.sub)}`);
      return send(res, 403, { error: 'Bad credentials' });
    }
    const session = await options.mintSession(user, verified.claims);
    send(res, 200, {
      token: session.token,
      expires_at: expiresAtIso(session.expiresAt),
      user: options.describeUser
        ? options.describeUser(user, verified.claims)
        : { sub: verified.claims.sub, email: verified.claims.email ?? null },
    });
  };

  return (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
}

function expiresAtIso(value: MintedSession['expiresAt']): string | null {
  if (value === undefined) return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The body as text, or undefined when it is larger than `limit` (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return resolve(undefined);
    }
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
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
