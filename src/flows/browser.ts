import { InterruptedError, TimeoutError, UsageError } from '../errors.js';
import { startCallbackListener, type ReceivedCallback } from '../loopback/listener.js';
import { browserUnreachable, type RunEnvironment } from '../io/environment.js';
import { exchangesAtBackend } from '../model.js';
import { effective } from '../store/profile-keys.js';
import { preloadConfigWriter } from '../store/profiles.js';
import { completeLogin } from './complete.js';
import type { InteractiveLoginInput, LoginDeps } from './login-deps.js';
import {
  authorizationParameters,
  discover,
  loadOpenIdClient,
  oidcError,
  readRefusalBody,
  tokenParameters,
  userAuthMethod,
  userClientAuth,
} from './oidc.js';
import type { LoginResult } from './with-token.js';

export interface BrowserLoginInput extends InteractiveLoginInput {
  /** How long to wait for the sign-in (from the moment the browser is opened). */
  timeoutMs: number;
  /** Where this runs: over SSH or without a display, a local browser cannot be opened. */
  environment?: RunEnvironment;
  /** A terminal is attached (stdin or stderr): someone may be there to read a URL or a code. */
  interactive?: boolean;
  /**
   * `login --remote`: the browser is on another machine. The authorization URL is printed, and
   * the address the IdP redirected that browser to is read from stdin (the listener stays up, so
   * a forwarded port completes the login too, whichever comes first).
   */
  remote?: boolean;
}

/** The side effects of the browser login (the same as the device flow's). */
export type BrowserLoginDeps = LoginDeps;

/**
 * The browser login (README, "login"): discovery, PKCE (S256) + state + nonce, a loopback
 * listener started before the browser opens, the code grant and id_token checks by openid-client,
 * the id_token signature by jose against the IdP's JWKS, then the backend exchange (when the
 * profile has a `backendUrl`) and the store. The browser's callback request is held until all of
 * it is done, so its page says whether the login worked.
 */
export async function loginWithBrowser(input: BrowserLoginInput, deps: BrowserLoginDeps): Promise<LoginResult> {
  const { profile, profileName } = input;
  const { out, clock } = deps;
  const settings = effective(profile);
  const client = await loadOpenIdClient();
  const config = await discover(profile, deps.http, clock, await userClientAuth(profile, input.clientSecret));
  const where = input.environment;
  const remote = where !== undefined && input.openBrowser && browserUnreachable(where);
  const why = where?.ssh ? 'an SSH session' : 'no display';
  if (remote && where.ci && input.interactive === false) {
    // CI without a terminal: no browser, and nobody to read a URL or a code. Waiting would only
    // end at the timeout (or the device code's 10 minutes).
    throw new UsageError(
      `no browser can be opened here (${why}) and this is CI (CI is set,` +
        ` no terminal): nobody can sign in interactively; nothing was stored`,
      {
        hint:
          `In CI, log in without a person:` +
          ` echo "$TOKEN" | ${input.cliName} login --with-token,` +
          ` or ${input.cliName} login --client-credentials.` +
          ` (${input.cliName} login --device, if someone will enter the code.)`,
        code: 'not_interactive',
      },
    );
  }
  const deviceOffered = typeof config.serverMetadata().device_authorization_endpoint === 'string';
  if (remote && !input.remote && deviceOffered) {
    out.info(
      `No browser can be opened here (${why}); using the device flow instead,` +
        ` for at most ${Math.round(input.timeoutMs / 1000)} s (--timeout).` +
        ` For the browser login, pass --no-browser and open the URL elsewhere.`,
    );
    const { loginWithDevice } = await import('./device.js');
    return loginWithDevice(
      {
        profileName,
        profile,
        openBrowser: false,
        cliName: input.cliName,
        config,
        timeoutMs: input.timeoutMs,
        ...(input.clientSecret !== undefined ? { clientSecret: input.clientSecret } : {}),
      },
      deps,
    );
  }

  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const listener = await startCallbackListener({
    redirectUri: settings.redirectUri,
    redirectPorts: settings.redirectPorts,
    expectedState: state,
    log: (line) => out.debug(line),
    profileSetCommand: `${input.cliName} profile set ${profileName}`,
  });

  let callback: ReceivedCallback | undefined;
  let succeeded = false;
  try {
    const parameters: Record<string, string> = {
      ...authorizationParameters(profile),
      redirect_uri: listener.redirectUri,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    const authorizationUrl = client.buildAuthorizationUrl(config, parameters).href;
    // A remote login: asked for, or chosen here because no browser can be opened and the IdP
    // offers no device flow.
    const pasting = input.remote === true || (remote && !deviceOffered);
    const opening = input.openBrowser && !remote && !pasting;
    // The browser gets a local start URL, never the authorization URL itself (another local user
    // can read a browser's argv); the URL printed for the user to open is their own copy.
    const shownUrl = opening ? listener.startUrl(authorizationUrl) : authorizationUrl;

    let pasted: Promise<never> | undefined;
    if (pasting) {
      listener.acceptAnyBrowser();
      if (!input.remote)
        out.info(`No browser can be opened here (${why}) and the IdP offers no device flow: using a remote login (--remote).`);
      out.info(
        `Open this URL in a browser on any machine and sign in to ${profileName}:\n\n  ${authorizationUrl}\n\n` +
          `The browser is then sent to ${listener.redirectUri}?…, which it cannot load there: that is expected.` +
          ` Copy that whole address from its address bar and paste it here (then Enter).` +
          (where?.ssh ? ` Or forward the port instead: ssh -L ${listener.port}:127.0.0.1:${listener.port} <this host>` : ''),
      );
      // Chosen here rather than asked for: an input that ends (no terminal) leaves the wait for a
      // forwarded port; asked for, the end of the input (Ctrl-D) ends the login.
      pasted = readPastedAddress(deps.stdin, (text) => listener.acceptPasted(text), input.cliName, input.remote === true);
      pasted.catch(() => undefined);
    } else out.info(`Sign in to ${profileName} in your browser. If it does not open, visit:\n\n  ${shownUrl}\n`);
    if (pasting) {
      // said above
    } else if (where?.ssh) {
      const port = listener.port;
      out.info(
        `This is an SSH session: the browser must reach port ${port} here.` +
          ` From your own machine run\n\n  ssh -L ${port}:127.0.0.1:${port} <this host>\n\nthen open the URL above there.` +
          ` (A fixed port helps next time:` +
          ` ${input.cliName} profile set ${profileName} redirect-uri http://127.0.0.1:${port}/callback)\n`,
      );
    } else if (remote) {
      out.info('No display here: open the URL above in a browser that can reach this machine.\n');
    }
    if (opening) {
      await deps.openBrowser(shownUrl).catch((error: Error) => {
        listener.acceptAnyBrowser();
        const device = config.serverMetadata().device_authorization_endpoint
          ? ` (or, where no browser can reach this machine: ${input.cliName} login --device)`
          : '';
        out.warn(`could not open a browser (${error.message}); open this URL yourself${device}:\n\n  ${authorizationUrl}\n`);
      });
    }

    // While the user signs in: load what the rest of the login needs (id_token check, config write).
    preloadConfigWriter();
    import('jose').catch(() => undefined);
    const progress = out.progress('Waiting for the sign-in in the browser… (Ctrl-C to cancel)');
    try {
      const arrived = waitFor(listener.received, input.timeoutMs, deps.signal, {
        cliName: input.cliName,
        profileName,
        redirectUri: listener.redirectUri,
        clientId: profile.clientId,
      });
      callback = await (pasted ? Promise.race([arrived, pasted]) : arrived);
    } finally {
      progress.stop();
    }

    const finishing = out.progress(
      exchangesAtBackend(profile) ? 'Completing the sign-in and the backend exchange…' : 'Completing the sign-in…',
    );
    try {
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(
          config,
          callback.url,
          {
            pkceCodeVerifier: codeVerifier,
            expectedState: state,
            expectedNonce: nonce,
            idTokenExpected: true,
          },
          tokenParameters(profile),
        );
      } catch (error) {
        await readRefusalBody(error);
        throw oidcError(error, callback.url.searchParams.has('error') ? 'authorization' : 'token', profile.issuer, {
          authMethod: userAuthMethod(profile, input.clientSecret),
          cliName: input.cliName,
          profileName,
        });
      }
      const result = await completeLogin(
        {
          profileName,
          profile,
          tokens,
          config,
          via: 'browser',
          cliName: input.cliName,
          ...(input.clientSecret !== undefined ? { clientSecret: input.clientSecret } : {}),
        },
        deps,
      );
      succeeded = true;
      return result;
    } finally {
      finishing.stop();
    }
  } finally {
    if (callback) await callback.finish({ ok: succeeded });
    await listener.close();
  }
}

/** The callback, or a timeout (exit 5) or Ctrl-C (exit 130), whichever comes first. */
/**
 * Read the pasted address of a remote login: the first line on stdin (a terminal or a pipe),
 * handed to the listener's gate. Rejects with one clear line when it is refused, when the input
 * ends before a line, or when a line is longer than any redirect; never resolves otherwise (the
 * listener's promise does, for the paste or a forwarded port alike).
 */
function readPastedAddress(
  stdin: NodeJS.ReadableStream | undefined,
  accept: (text: string) => string | undefined,
  cliName: string,
  endIsFinal: boolean,
): Promise<never> {
  const again = `Paste the whole address the browser was sent to (from its address bar), or run ${cliName} login --remote again.`;
  return new Promise<never>((_, reject) => {
    if (!stdin) return reject(new UsageError('a remote login needs its standard input to read the pasted address'));
    let buffered = '';
    const stop = (error: Error) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      (stdin as NodeJS.ReadableStream & { pause?: () => void }).pause?.();
      reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      buffered += chunk.toString();
      const at = buffered.search(/\r?\n/);
      if (at < 0) {
        if (buffered.length > MAX_PASTE)
          stop(new UsageError(`the pasted text is longer than any redirect address (16 KiB); nothing was stored`, { hint: again }));
        return;
      }
      const line = buffered.slice(0, at);
      if (line.trim() === '') {
        buffered = buffered.slice(at + 1);
        return onData('');
      }
      const refused = accept(line.slice(0, MAX_PASTE + 1));
      if (refused !== undefined) stop(new UsageError(`the pasted address was refused: ${refused}; nothing was stored`, { hint: again }));
      else {
        stdin.removeListener('data', onData);
        stdin.removeListener('end', onEnd);
      }
    };
    const onEnd = () => {
      if (buffered.trim() !== '') {
        const refused = accept(buffered.slice(0, MAX_PASTE + 1));
        if (refused === undefined) return;
        return stop(new UsageError(`the pasted address was refused: ${refused}; nothing was stored`, { hint: again }));
      }
      if (endIsFinal) stop(new UsageError('the input ended before an address was pasted; nothing was stored', { hint: again }));
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    (stdin as NodeJS.ReadableStream & { resume?: () => void }).resume?.();
  });
}

const MAX_PASTE = 16 * 1024;

function waitFor(
  received: Promise<ReceivedCallback>,
  timeoutMs: number,
  signal: AbortSignal,
  names: { cliName: string; profileName: string; redirectUri: string; clientId: string },
): Promise<ReceivedCallback> {
  const { cliName, profileName, redirectUri, clientId } = names;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError('login cancelled; nothing was stored'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new TimeoutError(`no sign-in arrived within ${Math.round(timeoutMs / 1000)} s; nothing was stored`, {
          // When the browser shows an error page of the IdP, it refused the request and never
          // sends the browser back here: a redirect URI it does not accept, or a client id it does
          // not know. Some IdPs (LemonLDAP::NG) check both only after the user signed in.
          details: [
            `If the browser shows an error from the IdP, it refused the request, for one of two reasons:` +
              ` it does not accept the redirect URI ${redirectUri} (many IdPs need the exact one registered for the client,` +
              ` port included: "redirect_uri mismatch", "invalid redirect URI"),` +
              ` or it does not know the client id ${clientId} ("This application is not known", "invalid_client", "unknown client").` +
              ` The IdP's page names which; ${cliName} doctor tells them apart where the IdP checks them before sign-in.`,
            `Fix: register it at the IdP, or use the one registered:` +
              ` ${cliName} profile set ${profileName} redirect-uri http://127.0.0.1:PORT/callback;` +
              ` for an unknown client, set the id the IdP has: ${cliName} profile set ${profileName} client-id <id>`,
          ],
          hint: `Run ${cliName} login again (--timeout <seconds> to wait longer; --device where no browser can reach this machine).`,
        }),
      );
    }, timeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    received.then(
      (callback) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(callback);
      },
      (error: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
