import type { Clock } from '../io/clock.js';
import type { Output } from '../io/output.js';
import { withRetryAfter, type Http } from '../http.js';
import type { Profile } from '../store/profile-keys.js';
import type { CredentialRecord } from '../store/secrets.js';
import { serviceAuthOf, serviceConfiguration } from './client-credentials.js';
import { discover, loadOpenIdClient, oidcError, userClientAuth } from './oidc.js';

/**
 * RFC 7009: revoke the IdP tokens of a credential at logout, the refresh token first (it
 * revokes the grant), then the access token. Only IdP tokens are revoked (a backend session or
 * API key is the backend's). Never throws: a failure is a warning, and logout goes on.
 */
export async function revokeAtIdp(
  input: { profileName: string; profile: Profile; record: CredentialRecord },
  deps: { http: Http; clock: Clock; out: Output },
): Promise<void> {
  const { record, profile } = input;
  const tokens: Array<[string, 'refresh_token' | 'access_token']> = [];
  if (record.refreshToken) tokens.push([record.refreshToken, 'refresh_token']);
  if (record.kind === 'oauth' || record.kind === 'service') tokens.push([record.token, 'access_token']);
  if (tokens.length === 0) return;
  try {
    const client = await loadOpenIdClient();
    let config = await discover(
      profile,
      deps.http,
      deps.clock,
      record.kind === 'service' ? undefined : await userClientAuth(profile, record.clientSecret),
    );
    // A service token is revoked with the client authentication that minted it (RFC 7009 §2.1):
    // without it a confidential client's revocation is refused (401) and the token stays active.
    const serviceAuth = record.kind === 'service' ? serviceAuthOf(record) : undefined;
    if (serviceAuth) config = await serviceConfiguration(profile, serviceAuth, deps, config);
    if (!config.serverMetadata().revocation_endpoint) {
      deps.out.debug(`${profile.issuer} advertises no revocation_endpoint; nothing revoked`);
      return;
    }
    // A busy IdP answering 503 + Retry-After is given a couple of short chances.
    config[client.customFetch] = withRetryAfter(deps.http.fetch);
    for (const [token, hint] of tokens) {
      try {
        await client.tokenRevocation(config, token, { token_type_hint: hint });
      } catch (error) {
        throw oidcError(error, 'revocation', profile.issuer);
      }
    }
  } catch (error) {
    deps.out.warn(
      `could not revoke the tokens of "${input.profileName}" at the IdP (${(error as Error).message});` +
        ` the local credential is removed anyway`,
    );
  }
}
