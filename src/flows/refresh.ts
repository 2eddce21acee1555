import { NotLoggedInError, RejectedError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { StorageKind } from '../store/profiles.js';
import type { CredentialRecord } from '../store/secrets.js';
import { discover, loadOpenIdClient, oidcError, tokenParameters, userClientAuth, readRefusalBody, userAuthMethod } from './oidc.js';

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
 * Renew an OAuth credential, or a backend session obtained through one, with its refresh token
 * and store the result in the same place. A
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
    await readRefusalBody(error);
    const mapped = oidcError(error, 'refresh', input.profile.issuer, {
      authMethod: userAuthMethod(input.profile, record.clientSecret),
      cliName: input.cliName,
      profileName: input.profileName,
    });
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
  let renewed: CredentialRecord;
  if (record.kind === 'session') {
    renewed = await renewSession(input, tokens.id_token, config, deps);
  } else {
    renewed = { ...record, token: tokens.access_token, obtainedAt: now.toISOString() };
    if (tokens.id_token) renewed.idToken = tokens.id_token;
    const ttl = tokens.expiresIn();
    if (ttl !== undefined) renewed.expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
    else delete renewed.expiresAt;
  }
  if (tokens.refresh_token) renewed.refreshToken = tokens.refresh_token;
  await deps.credentials.replace(input.profileName, renewed, input.storage);
  return renewed;
}

/**
 * A backend session near its end: the IdP's new id_token (from the refresh), checked as at login,
 * traded at the backend again for a new session. A backend that refuses it is exit 3 ("log in
 * again"); the stored record is left as it was.
 */
async function renewSession(
  input: RefreshInput,
  idToken: string | undefined,
  config: Awaited<ReturnType<typeof discover>>,
  deps: RefreshDeps,
): Promise<CredentialRecord> {
  const again = `Run ${input.cliName} login -p ${input.profileName} again.`;
  if (!idToken)
    throw new NotLoggedInError(
      `the IdP renewed the login of profile "${input.profileName}" without an id_token, so its backend session cannot be renewed`,
      {
        hint: again,
        code: 'refresh_refused',
      },
    );
  const { exchangeForSession, verifyIdTokenSignature } = await import('./complete.js');
  await verifyIdTokenSignature(idToken, config, input.profile.clientId, deps);
  let session: Awaited<ReturnType<typeof exchangeForSession>>;
  try {
    session = await exchangeForSession({ profileName: input.profileName, profile: input.profile, idToken, cliName: input.cliName }, deps);
  } catch (error) {
    if (!(error instanceof RejectedError)) throw error;
    throw new NotLoggedInError(`the backend would not renew the session of profile "${input.profileName}": ${error.message}`, {
      hint: again,
      code: 'refresh_refused',
      cause: error,
    });
  }
  const renewed: CredentialRecord = { ...input.record, ...session, obtainedAt: deps.clock.now().toISOString() };
  if (session.expiresAt === undefined) delete renewed.expiresAt;
  return renewed;
}
