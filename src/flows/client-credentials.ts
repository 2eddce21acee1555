import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CryptoKey as JoseCryptoKey } from 'jose';
import { ConfigError, RejectedError, UsageError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import { safeLine } from '../io/text.js';
import type { Credentials } from '../store/credentials.js';
import { effective, type Profile } from '../store/profile-keys.js';
import type { StorageKind } from '../store/profiles.js';
import type { CredentialRecord } from '../store/secrets.js';
import { discover, loadOpenIdClient, oidcError, readRefusalBody, tokenParameters, withClientAuth, type OidcConfiguration } from './oidc.js';
import { resultOf, type LoginResult } from './with-token.js';

/** How the service authenticates: a client secret, or a private key for private_key_jwt (RFC 7523). */
export type ServiceAuth = { clientSecret: string } | { privateKeyPath: string; keyId?: string };

export interface ClientCredentialsDeps {
  http: Http;
  clock: Clock;
  credentials: Credentials;
}

/** `login --client-credentials`: mint a service token and store it with what re-mints it. */
export async function loginWithClientCredentials(
  input: { profileName: string; profile: Profile; auth: ServiceAuth; cliName?: string },
  deps: ClientCredentialsDeps,
): Promise<LoginResult> {
  const auth: ServiceAuth =
    'privateKeyPath' in input.auth ? { ...input.auth, privateKeyPath: resolve(input.auth.privateKeyPath) } : input.auth;
  const record = await mintServiceToken(input.profile, auth, deps, { profileName: input.profileName, cliName: input.cliName });
  return resultOf(input.profileName, await deps.credentials.save(input.profileName, input.profile, record));
}

/** `token` on an expired service credential: mint a new one the same way, in the same store. */
export async function remintServiceToken(
  input: { profileName: string; profile: Profile; record: CredentialRecord; storage: StorageKind },
  deps: ClientCredentialsDeps,
): Promise<CredentialRecord> {
  const auth = serviceAuthOf(input.record);
  if (!auth)
    throw new UsageError(
      `the service credential of profile "${input.profileName}" has nothing to re-mint it with; log in again with --client-credentials`,
    );
  const renewed = await mintServiceToken(input.profile, auth, deps, { profileName: input.profileName });
  await deps.credentials.replace(input.profileName, renewed, input.storage);
  return renewed;
}

/** How a stored service credential authenticates (to re-mint it, or to revoke it). */
export function serviceAuthOf(record: CredentialRecord): ServiceAuth | undefined {
  if (record.clientSecret !== undefined) return { clientSecret: record.clientSecret };
  if (record.privateKeyPath !== undefined)
    return { privateKeyPath: record.privateKeyPath, ...(record.keyId ? { keyId: record.keyId } : {}) };
  return undefined;
}

async function mintServiceToken(
  profile: Profile,
  auth: ServiceAuth,
  deps: Pick<ClientCredentialsDeps, 'http' | 'clock'>,
  names: { profileName?: string; cliName?: string } = {},
): Promise<CredentialRecord> {
  const client = await loadOpenIdClient();
  const config = await serviceConfiguration(profile, auth, deps);
  const authMethod = 'clientSecret' in auth ? secretMethodFor(profile, config.serverMetadata()) : 'private_key_jwt';
  const parameters: Record<string, string> = tokenParameters(profile);
  // The default scopes are a user's (openid, offline_access): a service asks only for what the profile names.
  if (profile.scopes) parameters.scope = profile.scopes;
  if (profile.audience) parameters.audience = profile.audience;
  let tokens: Awaited<ReturnType<typeof client.clientCredentialsGrant>>;
  try {
    tokens = await client.clientCredentialsGrant(config, parameters);
  } catch (error) {
    await readRefusalBody(error);
    const mapped = oidcError(error, 'token', profile.issuer, { authMethod, ...names });
    // Servers differ on a private_key_jwt assertion's `aud` (RFC 7523 §3): the issuer, or the
    // token endpoint. A refusal with the default is most often that.
    if (mapped instanceof RejectedError && 'privateKeyPath' in auth && effective(profile).assertionAudience === 'issuer') {
      throw new RejectedError(mapped.message, {
        hint:
          "If the IdP expects the client assertion's aud to be its token endpoint:" +
          ' profile set <name> assertion-audience token-endpoint',
        code: mapped.code,
        cause: error,
      });
    }
    throw mapped;
  }
  const now = deps.clock.now();
  const record: CredentialRecord = {
    kind: 'service',
    token: tokens.access_token,
    obtainedAt: now.toISOString(),
    via: 'client-credentials',
    subject: profile.clientId,
    ...auth,
  };
  const ttl = tokens.expiresIn();
  if (ttl !== undefined) record.expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
  return record;
}

/**
 * The discovered configuration with the service's client authentication: the profile's
 * `tokenEndpointAuthMethod` when set, else from discovery. Used to mint, and to revoke (RFC 7009
 * §2.1: a confidential client authenticates there too).
 */
export async function serviceConfiguration(
  profile: Profile,
  auth: ServiceAuth,
  deps: Pick<ClientCredentialsDeps, 'http' | 'clock'>,
  discovered?: OidcConfiguration,
): Promise<OidcConfiguration> {
  const client = await loadOpenIdClient();
  discovered ??= await discover(profile, deps.http, deps.clock);
  const metadata = discovered.serverMetadata();
  const method = profile.tokenEndpointAuthMethod;
  const secretMethods = ['client_secret_basic', 'client_secret_post'];
  if ('clientSecret' in auth) {
    if (method !== undefined && !secretMethods.includes(method)) {
      throw new UsageError(`the profile's tokenEndpointAuthMethod is ${method}, which does not use a client secret`, {
        hint: 'Give --private-key <pem> for private_key_jwt, or: profile set <name> token-endpoint-auth-method client_secret_basic',
      });
    }
    const post = secretMethodFor(profile, metadata) === 'client_secret_post';
    return withClientAuth(
      discovered,
      profile,
      deps.http,
      deps.clock,
      post ? client.ClientSecretPost(auth.clientSecret) : client.ClientSecretBasic(auth.clientSecret),
    );
  }
  if (method !== undefined && method !== 'private_key_jwt') {
    throw new UsageError(`the profile's tokenEndpointAuthMethod is ${method}, not private_key_jwt, so --private-key cannot be used`, {
      hint: 'profile set <name> token-endpoint-auth-method private_key_jwt',
    });
  }
  refuseUnoffered('private_key_jwt', metadata, 'Log in with a client secret (--client-secret-stdin) instead');
  const { key } = await loadPrivateKey(auth.privateKeyPath);
  // `aud` is one string: the issuer identifier (openid-client's default, current guidance), or
  // the token endpoint for servers that check for it (assertionAudience: token-endpoint).
  const tokenEndpoint = effective(profile).assertionAudience === 'token-endpoint' ? metadata.token_endpoint : undefined;
  const clientAuth = client.PrivateKeyJwt(auth.keyId ? { key, kid: auth.keyId } : key, {
    [client.modifyAssertion]: (header, payload) => {
      // Ed25519 keys get the long-standing "EdDSA" name most servers know.
      if (header.alg === 'Ed25519') header.alg = 'EdDSA';
      if (tokenEndpoint) payload.aud = tokenEndpoint;
    },
  });
  return withClientAuth(discovered, profile, deps.http, deps.clock, clientAuth);
}

/**
 * How a client secret is sent: the profile's method when it names one; else client_secret_basic,
 * unless discovery offers client_secret_post and not basic (some servers do not form-decode Basic
 * credentials, RFC 6749 §2.3.1, so ids with -_.~ fail there). A method the IdP's discovery does
 * not offer is refused before anything is sent.
 */
function secretMethodFor(
  profile: Profile,
  metadata: ReturnType<OidcConfiguration['serverMetadata']>,
): 'client_secret_basic' | 'client_secret_post' {
  const methods = metadata.token_endpoint_auth_methods_supported;
  const method = profile.tokenEndpointAuthMethod;
  if (method === 'client_secret_basic' || method === 'client_secret_post') {
    refuseUnoffered(method, metadata, `Use the one it offers: profile set <name> token-endpoint-auth-method <method>`);
    return method;
  }
  const offered = (m: string) => !Array.isArray(methods) || methods.includes(m);
  if (offered('client_secret_basic')) return 'client_secret_basic';
  if (offered('client_secret_post')) return 'client_secret_post';
  refuseUnoffered('client_secret_basic', metadata, 'Log in with a private key (--private-key <pem>) instead');
  return 'client_secret_basic';
}

/**
 * Refuses a client authentication method that the IdP's `token_endpoint_auth_methods_supported`
 * leaves out (absent: RFC 8414's default, client_secret_basic, but no server is held to it here).
 */
function refuseUnoffered(method: string, metadata: ReturnType<OidcConfiguration['serverMetadata']>, next: string): void {
  const methods = metadata.token_endpoint_auth_methods_supported;
  if (!Array.isArray(methods) || methods.includes(method)) return;
  const listed = methods.filter((m): m is string => typeof m === 'string').map((m) => safeLine(m, 40));
  throw new ConfigError(
    `the IdP does not offer ${method} at its token endpoint: its discovery document lists ${listed.join(', ') || 'none'}; nothing was sent`,
    { hint: `${next}, or ask the IdP's admin to enable ${method} for this client.`, code: 'config' },
  );
}

const CURVE_ALG: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/**
 * Read a PEM private key for private_key_jwt and pick its algorithm from its type: RSA → RS256,
 * EC → ES256/384/512 by curve, Ed25519 → EdDSA. A symmetric, public or
 * unreadable key is a usage error (exit 2) that says why.
 */
export async function loadPrivateKey(path: string): Promise<{ key: JoseCryptoKey; alg: string }> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the private key ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (error) {
    const reason = /BEGIN PUBLIC KEY|BEGIN CERTIFICATE/.test(pem)
      ? 'it holds a public key or certificate, not a private key'
      : (error as Error).message;
    throw new UsageError(`${path} is not a usable private key: ${reason}`, {
      hint: 'Give a PEM private key (PKCS#8 or PKCS#1/SEC1): RSA, EC (P-256/384/521) or Ed25519.',
    });
  }
  let alg: string | undefined;
  switch (keyObject.asymmetricKeyType) {
    case 'rsa':
      alg = 'RS256';
      break;
    case 'rsa-pss':
      // WebCrypto (which openid-client signs with) imports RSA keys only under the plain
      // rsaEncryption OID, and Node cannot re-encode a PSS-restricted key.
      throw new UsageError(`${path} is an RSA-PSS-restricted key, which cannot be used here`, {
        hint: 'Use a plain RSA key (BEGIN PRIVATE KEY / BEGIN RSA PRIVATE KEY), an EC key or an Ed25519 key.',
      });
    case 'ec':
      alg = CURVE_ALG[keyObject.asymmetricKeyDetails?.namedCurve ?? ''];
      break;
    case 'ed25519':
      alg = 'EdDSA';
      break;
    default:
      alg = undefined;
  }
  if (!alg) {
    throw new UsageError(`${path} is a ${keyObject.asymmetricKeyType ?? 'symmetric'} key, which private_key_jwt cannot use`, {
      hint: 'Use an RSA, EC (P-256/384/521) or Ed25519 private key: client assertions are signed asymmetrically only.',
    });
  }
  const { importPKCS8 } = await import('jose');
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { key: await importPKCS8(pkcs8, alg), alg };
}
