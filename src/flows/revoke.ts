import type { Clock } from '../io/clock.js';
import type { Output } from '../io/output.js';
import { withRetryAfter, type Http } from '../http.js';
import type { Profile } from '../store/profile-keys.js';
import type { CredentialRecord } from '../store/secrets.js';
import { serviceAuthOf, serviceConfiguration } from './client-credentials.js';
import { discover, loadOpenIdClient, oidcError, userClientAuth } from './oidc.js';

/** What a logout did to the tokens it held, and what it could not do (and so stays valid). */
export interface RevocationReport {
  revoked: Array<'refresh_token' | 'access_token'>;
  /** Tokens that stay valid, until when where that is known, and why they were not revoked. */
  kept: Array<{ token: 'refresh_token' | 'access_token'; until?: string; why: string }>;
  /** Whether the IdP offers RP-initiated logout (an `end_session_endpoint`): `logout --idp`. */
  endSession: boolean;
}

/**
 * RFC 7009: revoke the IdP tokens of a credential at logout, the refresh token first (it
 * revokes the grant), then the access token. Only IdP tokens are revoked (a backend session or
 * API key is the backend's). Never throws: the report says what was revoked and what stays valid
 * (no revocation endpoint, a failure), and logout goes on.
 */
export async function revokeAtIdp(
  input: { profileName: string; profile: Profile; record: CredentialRecord },
  deps: { http: Http; clock: Clock; out: Output },
): Promise<RevocationReport> {
  const { record, profile } = input;
  const tokens: Array<[string, 'refresh_token' | 'access_token']> = [];
  if (record.refreshToken) tokens.push([record.refreshToken, 'refresh_token']);
  if (record.kind === 'oauth' || record.kind === 'service') tokens.push([record.token, 'access_token']);
  const report: RevocationReport = { revoked: [], kept: [], endSession: false };
  if (tokens.length === 0) return report;
  const until = (hint: 'refresh_token' | 'access_token') =>
    hint === 'access_token' && record.expiresAt ? { until: record.expiresAt } : {};
  const keepRest = (why: string) => {
    for (const [, hint] of tokens) if (!report.revoked.includes(hint)) report.kept.push({ token: hint, ...until(hint), why });
  };
  try {
    const client = await loadOpenIdClient();
    let config = await discover(
      profile,
      deps.http,
      deps.clock,
      record.kind === 'service' ? undefined : await userClientAuth(profile, record.clientSecret),
    );
    report.endSession = typeof config.serverMetadata().end_session_endpoint === 'string';
    // A service token is revoked with the client authentication that minted it (RFC 7009 §2.1):
    // without it a confidential client's revocation is refused (401) and the token stays active.
    const serviceAuth = record.kind === 'service' ? serviceAuthOf(record) : undefined;
    if (serviceAuth) config = await serviceConfiguration(profile, serviceAuth, deps, config);
    if (!config.serverMetadata().revocation_endpoint) {
      deps.out.debug(`${profile.issuer} advertises no revocation_endpoint; nothing revoked`);
      keepRest('the IdP offers no token revocation');
      return report;
    }
    // A busy IdP answering 503 + Retry-After is given a couple of short chances.
    config[client.customFetch] = withRetryAfter(deps.http.fetch);
    for (const [token, hint] of tokens) {
      try {
        await client.tokenRevocation(config, token, { token_type_hint: hint });
        report.revoked.push(hint);
      } catch (error) {
        throw oidcError(error, 'revocation', profile.issuer);
      }
    }
  } catch (error) {
    deps.out.warn(
      `could not revoke the tokens of "${input.profileName}" at the IdP (${(error as Error).message});` +
        ` the local credential is removed anyway`,
    );
    keepRest('the revocation failed');
  }
  return report;
}
