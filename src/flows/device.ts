import { ResponseBodyError } from 'openid-client';
import { ConfigError, InterruptedError, RejectedError, TimeoutError } from '../errors.js';
import { safeText } from '../io/text.js';
import { requireWebUrl, UnsafeUrlError } from '../io/urls.js';
import { preloadConfigWriter } from '../store/profiles.js';
import { completeLogin } from './complete.js';
import type { InteractiveLoginInput, LoginDeps } from './login-deps.js';
import {
  authorizationParameters,
  discover,
  loadOpenIdClient,
  oidcError,
  tokenParameters,
  userClientAuth,
  type OidcConfiguration,
} from './oidc.js';
import type { LoginResult } from './with-token.js';

export interface DeviceLoginInput extends InteractiveLoginInput {
  /** The issuer already discovered (the browser login hands over its own). */
  config?: OidcConfiguration;
  /** The login's time limit (--timeout): the wait ends then, or when the code expires, whichever is first. */
  timeoutMs?: number;
}

/** The same side effects as the browser login's. */
export type DeviceLoginDeps = LoginDeps;

/**
 * The device authorization grant (RFC 8628), for machines no browser can reach: show the code
 * and where to enter it, then poll. openid-client honours `interval`, `slow_down` (+5 s),
 * `authorization_pending` and `Retry-After` on 503; the wait ends when the code expires.
 */
export async function loginWithDevice(input: DeviceLoginInput, deps: DeviceLoginDeps): Promise<LoginResult> {
  const { profile, profileName } = input;
  const { out } = deps;
  const client = await loadOpenIdClient();
  const config = input.config ?? (await discover(profile, deps.http, deps.clock, await userClientAuth(profile, input.clientSecret)));
  if (!config.serverMetadata().device_authorization_endpoint) {
    throw new ConfigError(`the IdP at ${profile.issuer} does not offer the device flow (no device_authorization_endpoint)`, {
      hint: `Use the browser login: ${input.cliName} login (with --no-browser over SSH, and open the URL where you are).`,
    });
  }
  const parameters = authorizationParameters(profile, { prompt: false });
  let authorization: Awaited<ReturnType<typeof client.initiateDeviceAuthorization>>;
  try {
    authorization = await client.initiateDeviceAuthorization(config, parameters);
  } catch (error) {
    throw oidcError(error, 'device', profile.issuer);
  }

  // Shown and opened: checked like every URL from outside (RFC 8628 §3.3 leaves them to the IdP).
  const verificationUri = deviceUrl(authorization.verification_uri, 'verification_uri', profile.issuer);
  const complete =
    authorization.verification_uri_complete === undefined
      ? undefined
      : deviceUrl(authorization.verification_uri_complete, 'verification_uri_complete', profile.issuer);
  out.info(`To sign in to ${profileName}, open ${verificationUri} and enter the code\n\n  ${safeText(String(authorization.user_code))}\n`);
  if (complete) out.info(`Or open this link, which carries the code:\n\n  ${complete}\n`);
  if (input.openBrowser) {
    await deps.openBrowser(complete ?? verificationUri).catch((error: Error) => out.debug(`no browser opened: ${error.message}`));
  }

  // While the user confirms: load what the rest of the login needs (id_token check, config write).
  preloadConfigWriter();
  import('jose').catch(() => undefined);
  // The wait ends at the login's --timeout, or when the code expires (the IdP says expired_token;
  // a local deadline a little later ends it even if it never does), whichever comes first.
  // Ctrl-C ends it at once, not at the next poll.
  const expiresMs = (authorization.expires_in + 30) * 1000;
  const limited = input.timeoutMs !== undefined && input.timeoutMs < expiresMs;
  const deadline = AbortSignal.timeout(limited ? input.timeoutMs! : expiresMs);
  const signal = AbortSignal.any([deps.signal, deadline]);
  const progress = out.progress(
    limited
      ? `Waiting for the code to be entered (at most ${Math.round(input.timeoutMs! / 1000)} s; Ctrl-C to cancel)…`
      : `Waiting for the code to be entered (it expires in ${Math.round(authorization.expires_in / 60)} min; Ctrl-C to cancel)…`,
  );
  let tokens: Awaited<ReturnType<typeof client.pollDeviceAuthorizationGrant>>;
  try {
    tokens = await untilAborted(client.pollDeviceAuthorizationGrant(config, authorization, tokenParameters(profile), { signal }), signal);
  } catch (error) {
    if (deps.signal.aborted) throw new InterruptedError('login cancelled; nothing was stored');
    if (deadline.aborted && limited) {
      throw new TimeoutError(`no sign-in arrived within ${Math.round(input.timeoutMs! / 1000)} s; nothing was stored`, {
        hint: `Run ${input.cliName} login --device again (--timeout <seconds> to wait longer).`,
      });
    }
    if (deadline.aborted || (error instanceof ResponseBodyError && error.error === 'expired_token')) {
      throw new TimeoutError('the code expired before it was entered; nothing was stored', {
        hint: `Run ${input.cliName} login --device again.`,
        code: 'expired_token',
      });
    }
    throw oidcError(error, 'device', profile.issuer);
  } finally {
    progress.stop();
  }
  return completeLogin(
    {
      profileName,
      profile,
      tokens,
      config,
      via: 'device',
      cliName: input.cliName,
      ...(input.clientSecret !== undefined ? { clientSecret: input.clientSecret } : {}),
    },
    deps,
  );
}

/** `promise`, or the signal's abort at once (openid-client notices it only at its next poll). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A verification URI of the IdP's answer, serialized, or exit 4: it is never shown or opened unchecked. */
function deviceUrl(value: unknown, field: string, issuer: string): string {
  try {
    return requireWebUrl(value).href;
  } catch (error) {
    if (!(error instanceof UnsafeUrlError)) throw error;
    throw new RejectedError(
      `the IdP's device authorization answer has an unusable ${field} (${error.message}); nothing was opened or stored`,
      {
        hint: `The IdP at ${issuer} (or something between you and it) is misbehaving: report it to its admin.`,
        code: 'idp_response_invalid',
      },
    );
  }
}
