import type { Clock } from '../io/clock.js';
import type { Output } from '../io/output.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import { effective, type Profile } from '../store/profile-keys.js';
import { use, type Lazy } from '../model.js';
import type { RevocationReport } from './revoke.js';

export interface ProfileLogoutReport {
  /** Whether there was a credential to delete. */
  removed: boolean;
  /** What revocation did (absent with --no-revoke, or when nothing was stored). */
  revocation?: RevocationReport;
  /** The login's id_token, kept for RP-initiated logout (`logout --idp`) only. */
  idToken?: string;
  /** When the deleted credential would have ended (a backend session is the backend's to end). */
  expiresAt?: string;
  kind?: string;
}

/**
 * Log a profile out: revoke its IdP tokens where the IdP offers revocation (unless `revoke` is
 * false; a failure only warns), then delete the stored credential. True when there was one.
 * (`logOutProfile` says what was revoked and what stays valid.)
 */
export async function logout(
  input: { profileName: string; profile: Profile; revoke?: boolean },
  deps: { credentials: Lazy<Credentials>; http: Lazy<Http>; clock: Clock; out: Output },
): Promise<boolean> {
  return (await logOutProfile(input, deps)).removed;
}

/**
 * `logout`, with what it did: what was revoked, what stays valid and until when, and the login's
 * id_token for RP-initiated logout. Under the profile's renewal lock: a refresh in flight
 * finishes first, and what it stored is what gets revoked and deleted.
 */
export async function logOutProfile(
  input: { profileName: string; profile: Profile; revoke?: boolean },
  deps: { credentials: Lazy<Credentials>; http: Lazy<Http>; clock: Clock; out: Output },
): Promise<ProfileLogoutReport> {
  const credentials = await use(deps.credentials);
  return credentials.exclusive(input.profileName, async () => {
    // A credential that cannot be read (the keychain gone) is still removed below.
    const stored = await credentials.load(input.profileName).catch(() => undefined);
    const result: ProfileLogoutReport = { removed: false };
    if (stored) {
      if (stored.record.idToken) result.idToken = stored.record.idToken;
      if (stored.record.expiresAt) result.expiresAt = stored.record.expiresAt;
      result.kind = stored.record.kind;
      if (input.revoke !== false) {
        const { revokeAtIdp } = await import('./revoke.js');
        result.revocation = await revokeAtIdp(
          { profileName: input.profileName, profile: input.profile, record: stored.record },
          { http: await use(deps.http), clock: deps.clock, out: deps.out },
        );
      }
    }
    result.removed = await credentials.remove(input.profileName);
    return result;
  });
}

/**
 * OpenID Connect RP-Initiated Logout 1.0: end the user's session at the IdP, in the browser, at
 * its `end_session_endpoint` with the login's id_token as `id_token_hint` and the client id. The
 * browser is given a one-time local start URL that redirects there, as for a login: the id_token
 * (which a backend would trade for a session) never sits in a browser's argv. 'opened' once the
 * browser has followed it; 'not-offered' when the IdP has no such endpoint.
 */
export async function endIdpSession(
  input: { profile: Profile; idToken?: string; timeoutMs: number },
  deps: { http: Http; clock: Clock; out: Output; openBrowser: (url: string) => Promise<void>; signal?: AbortSignal },
): Promise<'opened' | 'not-offered' | 'not-opened'> {
  const { discover } = await import('./oidc.js');
  const { requireWebUrlFrom } = await import('../io/urls.js');
  const config = await discover(input.profile, deps.http, deps.clock);
  const endpoint = config.serverMetadata().end_session_endpoint;
  if (typeof endpoint !== 'string') return 'not-offered';
  const url = requireWebUrlFrom(endpoint, input.profile.issuer);
  url.searchParams.set('client_id', input.profile.clientId);
  if (input.idToken) url.searchParams.set('id_token_hint', input.idToken);
  const { startCallbackListener } = await import('../loopback/listener.js');
  const { randomBytes } = await import('node:crypto');
  let started!: () => void;
  const opened = new Promise<void>((resolve) => (started = resolve));
  const listener = await startCallbackListener({
    redirectUri: effective(input.profile).redirectUri,
    redirectPorts: effective(input.profile).redirectPorts,
    expectedState: randomBytes(16).toString('base64url'),
    onStart: () => started(),
  });
  try {
    const start = listener.startUrl(url.href);
    deps.out.info(`Signing out at the IdP in your browser. If it does not open, visit (on this machine):\n\n  ${start}\n`);
    await deps.openBrowser(start).catch((error: Error) => {
      deps.out.warn(`could not open a browser (${error.message}); open the URL above yourself`);
    });
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      opened.then(() => 'opened' as const),
      new Promise<'not-opened'>((resolve) => (timer = setTimeout(() => resolve('not-opened'), input.timeoutMs))),
      new Promise<'not-opened'>((resolve) => deps.signal?.addEventListener('abort', () => resolve('not-opened'), { once: true })),
    ]);
    clearTimeout(timer);
    return waited;
  } finally {
    await listener.close();
  }
}
