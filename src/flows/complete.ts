import { hostname } from 'node:os';
import { FailureError, RejectedError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import { sameIssuer } from '../io/urls.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import { exchangesAtBackend } from '../model.js';
import { effective, type Profile } from '../store/profile-keys.js';
import type { CredentialRecord } from '../store/secrets.js';
import type { VerifyFailureReason } from '../token/id-token.js';
import type { OidcConfiguration } from './oidc.js';
import { resultOf, type LoginResult } from './with-token.js';

type TokenResponse = Awaited<ReturnType<typeof import('openid-client').authorizationCodeGrant>>;

export interface CompleteLoginInput {
  profileName: string;
  profile: Profile;
  /** The token response; openid-client has checked the id_token's claims. */
  tokens: TokenResponse;
  config: OidcConfiguration;
  via: 'browser' | 'device';
  cliName: string;
  /** Kept with the credential: refresh and revocation authenticate with it too. */
  clientSecret?: string;
}

export interface CompleteLoginDeps {
  http: Http;
  clock: Clock;
  credentials: Credentials;
}

/**
 * What every interactive login does after the IdP answered: check the id_token's signature,
 * trade it at the backend (when the profile has one and exchanges there) or keep the IdP's
 * tokens (the access token for the profile's `resource`, in the `exchange: none` case), and store.
 */
export async function completeLogin(input: CompleteLoginInput, deps: CompleteLoginDeps): Promise<LoginResult> {
  const { profile, profileName, tokens, via } = input;
  const idToken = tokens.id_token;
  const claims = tokens.claims();
  const now = deps.clock.now();
  if (!idToken || !claims) {
    // An OAuth-only authorization server (RFC 8414, no OpenID): its access token for the
    // profile's resource is the credential, and nobody is named.
    if (!exchangesAtBackend(profile) && profile.resource !== undefined && !effective(profile).scopes.split(' ').includes('openid')) {
      const record: CredentialRecord = { kind: 'oauth', token: tokens.access_token, obtainedAt: now.toISOString(), via };
      if (tokens.refresh_token) record.refreshToken = tokens.refresh_token;
      const ttl = tokens.expiresIn();
      if (ttl !== undefined) record.expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
      if (typeof tokens.scope === 'string') record.scope = tokens.scope;
      return withIssuerForm(resultOf(profileName, await deps.credentials.save(profileName, profile, record)), input.config, profile);
    }
    throw new FailureError('the IdP answered without an id_token (is "openid" in the profile\'s scopes?); nothing was stored');
  }
  await verifyIdTokenSignature(idToken, input.config, profile.clientId, deps);

  let record: CredentialRecord;
  if (exchangesAtBackend(profile)) {
    record = {
      ...(await exchangeForSession({ profileName, profile, idToken, cliName: input.cliName }, deps)),
      obtainedAt: now.toISOString(),
      via,
    };
    // Kept so that the session can be renewed without the browser (flows/refresh.ts).
    if (tokens.refresh_token) record.refreshToken = tokens.refresh_token;
  } else {
    record = { kind: 'oauth', token: tokens.access_token, idToken, obtainedAt: now.toISOString(), via, subject: claims.sub };
    if (typeof claims.email === 'string') record.email = claims.email;
    if (tokens.refresh_token) record.refreshToken = tokens.refresh_token;
    const ttl = tokens.expiresIn();
    if (ttl !== undefined) record.expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
  }
  if (input.clientSecret !== undefined) record.clientSecret = input.clientSecret;
  if (typeof tokens.scope === 'string') record.scope = tokens.scope;
  return withIssuerForm(resultOf(profileName, await deps.credentials.save(profileName, profile, record)), input.config, profile);
}

/**
 * One issuer rule: the IdP's discovery accepted the profile's issuer because it is the same URL
 * (openid-client's rule), but tokens carry the IdP's exact string and every strict verifier
 * (`token inspect --verify`, the reference backend, jose) compares that string. The login names
 * the IdP's form so that the caller stores it, and the rest accepts what the login accepted.
 */
function withIssuerForm(result: LoginResult, config: OidcConfiguration, profile: Profile): LoginResult {
  const exact = config.serverMetadata().issuer;
  return exact !== profile.issuer && sameIssuer(exact, profile.issuer) ? { ...result, issuerForm: exact } : result;
}

/** Trade a checked id_token for a session at the profile's backend: the session's fields of a record. */
export async function exchangeForSession(
  input: { profileName: string; profile: Profile; idToken: string; cliName: string; workload?: boolean },
  deps: Pick<CompleteLoginDeps, 'http' | 'clock'>,
): Promise<Pick<CredentialRecord, 'kind' | 'token' | 'expiresAt' | 'subject' | 'email'>> {
  const { profile } = input;
  const settings = effective(profile);
  const { exchangeIdToken } = await import('../exchange/cli-auth.js');
  const exchanged = await exchangeIdToken(
    {
      profileName: input.profileName,
      backendUrl: profile.backendUrl!,
      exchangePath: settings.exchangePath,
      encoding: settings.exchangeEncoding,
      clientId: profile.clientId,
      idToken: input.idToken,
      cliName: input.cliName,
      machine: hostname(),
      ...(input.workload ? { workload: true } : {}),
    },
    deps.http,
    deps.clock,
  );
  const session: Pick<CredentialRecord, 'kind' | 'token' | 'expiresAt' | 'subject' | 'email'> = { kind: 'session', token: exchanged.token };
  if (exchanged.expiresAt) session.expiresAt = exchanged.expiresAt;
  if (exchanged.subject) session.subject = exchanged.subject;
  if (exchanged.email) session.email = exchanged.email;
  return session;
}

/**
 * openid-client has checked the id_token's claims (iss, aud, azp, exp, nonce); the one id_token
 * check (src/token/id-token.ts) adds the signature against the IdP's JWKS, with asymmetric
 * algorithms only, and `iat`.
 */
export async function verifyIdTokenSignature(
  idToken: string,
  config: OidcConfiguration,
  clientId: string,
  deps: Pick<CompleteLoginDeps, 'http' | 'clock'>,
): Promise<void> {
  const metadata = config.serverMetadata();
  if (!metadata.jwks_uri)
    throw new FailureError(
      "the IdP's discovery document has no jwks_uri, so the id_token's signature cannot be checked; nothing was stored",
    );
  const [{ createRemoteJWKSet, customFetch, decodeJwt: peek }, { checkIdToken }] = await Promise.all([
    import('jose'),
    import('../token/id-token.js'),
  ]);
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { [customFetch]: deps.http.fetch });
  // Entra ID's multi-tenant issuers (common, organizations) publish the template
  // https://login.microsoftonline.com/{tenantid}/v2.0: each token's issuer is its own tenant's
  // (`tid`), as openid-client also checks it.
  const tid = metadata.issuer.includes('{tenantid}') ? peek(idToken).tid : undefined;
  const issuer = typeof tid === 'string' ? metadata.issuer.replace('{tenantid}', tid) : metadata.issuer;
  const checked = await checkIdToken(idToken, jwks, { issuer, clientIds: new Set([clientId]), now: deps.clock.now(), toleranceSec: 60 });
  if (checked.ok) return;
  // openid-client does not look at `iat`; a token issued in the future is refused (rp-id_token-iat).
  if (checked.reason === 'issued_in_future')
    throw new RejectedError(`the IdP's id_token failed verification: its "iat" (issued at) is in the future; nothing was stored`, {
      hint: "If this machine's clock is behind, set it right (doctor compares it with the IdP's).",
      code: 'id_token_iat',
    });
  throw new RejectedError(
    `the IdP's id_token failed verification: ${ID_TOKEN_FAILURES[checked.reason] ?? checked.message}; nothing was stored`,
    {
      hint: 'Something between you and the IdP may be tampering with the login. Report it with the output of --debug.',
      code: 'id_token_signature',
      cause: checked.cause,
    },
  );
}

/** What a failed id_token check means, said to the user who just signed in. */
const ID_TOKEN_FAILURES: Partial<Record<VerifyFailureReason, string>> = {
  kid_ambiguous: 'it has no key id (kid) while the IdP publishes several keys',
  kid_unknown: "its key id is not in the IdP's published keys (JWKS)",
  bad_signature: "the signature does not match the IdP's key",
  alg_not_allowed: 'it is not signed with an asymmetric algorithm',
  key_too_weak: "the IdP's key is too weak to trust (RSA under 2048 bits)",
};
