import { NotLoggedInError, RejectedError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { StorageKind } from '../store/profiles.js';
import type { CredentialRecord } from '../store/secrets.js';
import { discover, loadOpenIdClient, oidcError, tokenParameters, userClientAuth } from './oidc.js';

export interface RefreshInput {
  profileName: string;
  profile: Profile;
  record: CredentialRecord;
  storage: StorageKind;
  cliName: string;
}

export interface RefreshDeps {
  http: Http;
  clock: Clock;
  credentials: Credentials;
}

/**
 * Renew an OAuth credential with its refresh token and store the result in the same place. A
 * refused refresh (invalid_grant: revoked, expired, already rotated) is exit 3 with "log in
 * again", and the stored record is left as it was.
 */
export async function refreshCredential(input: RefreshInput, deps: RefreshDeps): Promise<CredentialRecord> {
  const { record } = input;
  if (!record.refreshToken) {
    throw new NotLoggedInError(`the credential of profile "${input.profileName}" cannot be renewed (no refresh token)`, {
      hint: `Run: ${input.cliName} login -p ${input.profileName}`,
    });
  }
  const client = await loadOpenIdClient();
  const config = await discover(input.profile, deps.http, deps.clock, await userClientAuth(input.profile, record.clientSecret));
  let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    tokens = await client.refreshTokenGrant(config, record.refreshToken, tokenParameters(input.profile));
  } catch (error) {
    const mapped = oidcError(error, 'refresh', input.profile.issuer);
    if (mapped instanceof RejectedError) {
      throw new NotLoggedInError(
        `the IdP would not renew the credential of profile "${input.profileName}"` +
          ` (${mapped.message.replace(/^the IdP refused the refresh request \(|\)$/g, '')})`,
        {
          hint: `Run ${input.cliName} login -p ${input.profileName} again.`,
          code: 'refresh_refused',
          cause: error,
        },
      );
    }
    throw mapped;
  }
  const now = deps.clock.now();
  const renewed: CredentialRecord = { ...record, token: tokens.access_token, obtainedAt: now.toISOString() };
  if (tokens.refresh_token) renewed.refreshToken = tokens.refresh_token;
  if (tokens.id_token) renewed.idToken = tokens.id_token;
  const ttl = tokens.expiresIn();
  if (ttl !== undefined) renewed.expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
  else delete renewed.expiresAt;
  await deps.credentials.replace(input.profileName, renewed, input.storage);
  return renewed;
}
