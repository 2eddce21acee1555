import { FailureError, InterruptedError, TimeoutError } from '../errors.js';
import type { BrowserOpener } from '../io/browser.js';
import type { Clock } from '../io/clock.js';
import type { Output } from '../io/output.js';
import type { Http } from '../http.js';
import { startCallbackListener, type ReceivedCallback } from '../loopback/listener.js';
import { effective, type Profile } from '../store/profile-keys.js';
import type { Credentials } from '../store/credentials.js';
import type { CredentialRecord } from '../store/secrets.js';
import { ASYMMETRIC_ALGS } from '../token/algs.js';
import { discover, loadOpenIdClient, oidcError, type OidcConfiguration } from './oidc.js';
import { resultOf, type LoginResult } from './with-token.js';

export interface BrowserLoginInput {
  profileName: string;
  profile: Profile;
  /** How long to wait for the sign-in (from the moment the browser is opened). */
  timeoutMs: number;
  /** False with --no-browser: only print the URL. */
  openBrowser: boolean;
  /** The command's name, for hints (`latchkey`, or an embedding CLI's). */
  cliName: string;
}

export interface BrowserLoginDeps {
  http: Http;
  credentials: Credentials;
  clock: Clock;
  out: Output;
  openBrowser: BrowserOpener;
  /** Aborted on Ctrl-C: the listener closes and nothing is stored. */
  signal: AbortSignal;
}

/**
 * The browser login of DESIGN "Browser login": discovery, PKCE (S256) + state + nonce, a loopback
 * listener started before the browser opens, the code grant and id_token checks by openid-client,
 * the id_token signature by jose against the IdP's JWKS, then the backend exchange (when the
 * profile has a `backendUrl`) and the store. The browser's callback request is held until all of
 * it is done, so its page says whether the login worked.
 */
export async function browserLogin(input: BrowserLoginInput, deps: BrowserLoginDeps): Promise<LoginResult> {
  const { profile, profileName } = input;
  const { out, clock } = deps;
  const settings = effective(profile);
  const client = await loadOpenIdClient();
  const config = await discover(profile, deps.http, clock);

  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const listener = await startCallbackListener({
    redirectUri: settings.redirectUri,
    redirectPorts: settings.redirectPorts,
    expectedState: state,
    log: (line) => out.debug(line),
  });

  let callback: ReceivedCallback | undefined;
  let succeeded = false;
  try {
    const parameters: Record<string, string> = {
      redirect_uri: listener.redirectUri,
      scope: settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (profile.audience) parameters.audience = profile.audience;
    if (profile.prompt) parameters.prompt = profile.prompt;
    const authorizationUrl = client.buildAuthorizationUrl(config, parameters).href;

    out.info(`Sign in to ${profileName} in your browser. If it does not open, visit:\n\n  ${authorizationUrl}\n`);
    if (input.openBrowser) {
      await deps.openBrowser(authorizationUrl).catch((error: Error) => out.warn(`could not open a browser (${error.message}); open the URL above yourself`));
    }

    const progress = out.progress('Waiting for the sign-in in the browser… (Ctrl-C to cancel)');
    try {
      callback = await waitFor(listener.received, input.timeoutMs, deps.signal, input.cliName);
    } finally {
      progress.stop();
    }

    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callback.url, {
        pkceCodeVerifier: codeVerifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw oidcError(error, callback.url.searchParams.has('error') ? 'authorization' : 'token', profile.issuer);
    }
    const idToken = tokens.id_token!;
    await verifyIdTokenSignature(idToken, config, profile.clientId, deps);
    const claims = tokens.claims()!;
    const now = clock.now();

    let record: CredentialRecord;
    if (profile.backendUrl) {
      const { exchangeIdToken } = await import('../exchange/cli-auth.js');
      const exchanged = await exchangeIdToken(
        {
          profileName,
          backendUrl: profile.backendUrl,
          exchangePath: settings.exchangePath,
          encoding: settings.exchangeEncoding,
          clientId: profile.clientId,
          idToken,
          cliName: input.cliName,
        },
        deps.http,
        clock,
      );
      record = { kind: 'session', token: exchanged.token, obtainedAt: now.toISOString(), via: 'browser' };
      if (exchanged.expiresAt) record.expiresAt = exchanged.expiresAt;
      if (exchanged.subject) record.subject = exchanged.subject;
      if (exchanged.email) record.email = exchanged.email;
    } else {
      record = { kind: 'oauth', token: tokens.access_token, idToken, obtainedAt: now.toISOString(), via: 'browser', subject: claims.sub };
      if (typeof claims.email === 'string') record.email = claims.email;
      if (tokens.refresh_token) record.refreshToken = tokens.refresh_token;
      const ttl = tokens.expiresIn();
      if (ttl !== undefined) record.expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
    }
    const stored = await deps.credentials.save(profileName, profile, record);
    succeeded = true;
    return resultOf(profileName, stored);
  } finally {
    if (callback) await callback.finish({ ok: succeeded });
    await listener.close();
  }
}

/** The callback, or a timeout (exit 5) or Ctrl-C (exit 130), whichever comes first. */
function waitFor(received: Promise<ReceivedCallback>, timeoutMs: number, signal: AbortSignal, cliName: string): Promise<ReceivedCallback> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError('login cancelled; nothing was stored'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new TimeoutError(`no sign-in arrived within ${Math.round(timeoutMs / 1000)} s; nothing was stored`, {
          hint: `Run ${cliName} login again (--timeout <seconds> to wait longer; --device where no browser can reach this machine).`,
        }),
      );
    }, timeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    received.then((callback) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(callback);
    });
  });
}

/**
 * openid-client has checked the id_token's claims (iss, aud, azp, exp, iat, nonce); its signature
 * is checked here against the IdP's JWKS, with asymmetric algorithms only.
 */
async function verifyIdTokenSignature(idToken: string, config: OidcConfiguration, clientId: string, deps: Pick<BrowserLoginDeps, 'http' | 'clock'>): Promise<void> {
  const metadata = config.serverMetadata();
  if (!metadata.jwks_uri) throw new FailureError("the IdP's discovery document has no jwks_uri, so the id_token's signature cannot be checked; nothing was stored");
  const { createRemoteJWKSet, customFetch, jwtVerify, errors } = await import('jose');
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { [customFetch]: deps.http.fetch as never });
  try {
    await jwtVerify(idToken, jwks, { algorithms: [...ASYMMETRIC_ALGS], issuer: metadata.issuer, audience: clientId, currentDate: deps.clock.now(), clockTolerance: 60 });
  } catch (error) {
    const reason =
      error instanceof errors.JWKSNoMatchingKey
        ? "its key id is not in the IdP's published keys (JWKS)"
        : error instanceof errors.JWSSignatureVerificationFailed
          ? "the signature does not match the IdP's key"
          : error instanceof errors.JOSEAlgNotAllowed
            ? 'it is not signed with an asymmetric algorithm'
            : (error as Error).message;
    throw new FailureError(`the IdP's id_token failed verification: ${reason}; nothing was stored`, {
      hint: 'Something between you and the IdP may be tampering with the login. Report it with the output of --debug.',
      code: 'id_token_signature',
      cause: error,
    });
  }
}
