import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

/** The koa context oidc-provider's middleware sees. */
export type KoaContext = Parameters<Parameters<Provider['use']>[0]>[0];

/**
 * A real OpenID Provider (oidc-provider, OpenID Certified) on 127.0.0.1, for the demo and the
 * integration tests: a Native public client for the CLI, devInteractions (any login and password
 * sign in), refresh tokens, device flow, client credentials and revocation.
 */
/**
 * oidc-provider warns, rightly, that in-memory storage and devInteractions are for development
 * only. Here that is the point: those warnings are dropped while it is set up (and only then),
 * to keep the demo's and the tests' output readable.
 */
// oidc-provider colours its warnings: the pattern matches the escape sequence they start with.
// eslint-disable-next-line no-control-regex
const DEV_WARNING = /^(\u001b\[[\d;]*m)?oidc-provider (WARNING|NOTICE): .*(development-only|you SHOULD change it)/;

function quietly<T>(make: () => T): T {
  const saved = { warn: console.warn, info: console.info };
  const filter =
    (original: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      if (typeof args[0] === 'string' && DEV_WARNING.test(args[0])) return;
      original(...args);
    };
  console.warn = filter(saved.warn.bind(console));
  console.info = filter(saved.info.bind(console));
  try {
    return make();
  } finally {
    console.warn = saved.warn;
    console.info = saved.info;
  }
}

export interface DevIdpOptions {
  /** Port to listen on; 0 = any. */
  port?: number;
  /** The CLI's Native client id. */
  clientId?: string;
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
  /** Extra clients (e.g. a confidential service client). */
  clients?: Record<string, unknown>[];
  /** Offer the device flow (default true). */
  deviceFlow?: boolean;
  /** Client authentication methods the IdP advertises and accepts. */
  clientAuthMethods?: import('oidc-provider').ClientAuthMethod[];
  /** Lifetime of client-credentials access tokens, and of device codes (seconds). */
  clientCredentialsTtl?: number;
  deviceCodeTtl?: number;
  /** Publish this many more signing keys in the JWKS (the first one still signs). */
  extraSigningKeys?: number;
  /** Serve https with this key and certificate (PEM) instead of http. */
  tls?: { key: string; cert: string };
  /**
   * Issue RFC 9068 JWT access tokens for this resource (its `aud`), to every client, as Glewlwyd,
   * Keycloak or Auth0 with an API do; default: opaque access tokens.
   */
  jwtAccessTokensFor?: string;
  /** The `aud` of those access tokens when it is not the resource itself (Keycloak's "account"). */
  accessTokenAudience?: string;
  /** Serve under this path (Keycloak's /realms/NAME, Entra's /TENANT/v2.0): the issuer includes it. */
  issuerPath?: string;
  /** The issuer's origin when it is reached through a proxy under another name (https://login.microsoftonline.com). */
  publicOrigin?: string;
  /** Extra claims of every account, in the id_token (Entra's tid). */
  accountClaims?: Record<string, unknown>;
  /** Offer token revocation (default true; Entra ID has none). */
  revocation?: boolean;
  /** When to issue a refresh token, by the authorization request's PKCE challenge; default: offline_access granted. */
  refreshTokenFor?: (codeChallenge: string | undefined, scopes: Set<string>) => boolean;
  /**
   * Offer dynamic client registration (RFC 7591, with RFC 7592 management) and issue RFC 9068 JWT
   * access tokens for the resources in `resourceServers` (RFC 8707), as an IdP set up for MCP
   * clients does: what `profile add --backend-url` alone needs.
   */
  registration?: boolean;
  /** Called with every request before the provider sees it (rewrite its URL, add headers): a thin proxy in front. */
  front?: (req: import('node:http').IncomingMessage) => void;
  /**
   * OpenID Connect Back-Channel Logout: the native client's `backchannel_logout_uri` (the
   * backend's logout endpoint), with `sid` required; ending a session at the end-session
   * endpoint POSTs a logout token there.
   */
  backchannelLogoutUri?: string;
}

export interface DevIdp {
  issuer: string;
  /** The port it listens on (127.0.0.1), whatever name the issuer uses. */
  port: number;
  clientId: string;
  /** The private signing key (its public half is in the JWKS): tests re-sign tampered tokens with it. */
  signingKey: JWK & { kid: string };
  /** Rewrite the id_token of token responses (negative tests); undefined = leave it. */
  tamperIdToken: ((idToken: string) => Promise<string>) | undefined;
  /** Requests the IdP served, as `METHOD path` (no query). */
  requests: string[];
  /**
   * Fault injection for tests: `before` may answer a request itself (return true), `after` may
   * change a response (koa context). Used for 503 + Retry-After, slow_down, short intervals.
   */
  hooks: { before?: (ctx: KoaContext) => boolean | Promise<boolean>; after?: (ctx: KoaContext) => void | Promise<void> };
  /**
   * The resource indicators it issues JWT access tokens for (their `aud`), with `registration`:
   * add a backend's URL once it listens.
   */
  resourceServers: Set<string>;
  /** The provider, for tests that look inside (introspection is also enabled). */
  provider: Provider;
  close(): Promise<void>;
}

export async function startDevIdp(options: DevIdpOptions = {}): Promise<DevIdp> {
  const clientId = options.clientId ?? 'latchkey-cli';
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'dev-key-1', alg: 'RS256', use: 'sig' } as JWK & { kid: string };
  const extraKeys: JWK[] = [];
  for (let i = 0; i < (options.extraSigningKeys ?? 0); i += 1) {
    const extra = await generateKeyPair('RS256', { extractable: true });
    extraKeys.push({ ...(await exportJWK(extra.privateKey)), kid: `dev-key-${i + 2}`, alg: 'RS256', use: 'sig' });
  }

  const server: Server = options.tls ? createHttpsServer(options.tls) : createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const origin = options.publicOrigin ?? `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}${options.issuerPath ?? ''}`;
  const extraClaims = options.accountClaims ?? {};
  const resourceServers = new Set<string>();
  const resourceScope = 'openid profile email offline_access account:usage:read account:usage:write';

  const provider = quietly(
    () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            application_type: 'native',
            token_endpoint_auth_method: 'none',
            // A native client's loopback redirect matches on any port (RFC 8252 §7.3).
            redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback', 'http://[::1]/callback'],
            grant_types: [
              'authorization_code',
              'refresh_token',
              // oidc-provider refuses a client with a grant it does not offer (deviceFlow: false).
              ...(options.deviceFlow === false ? [] : ['urn:ietf:params:oauth:grant-type:device_code']),
            ],
            response_types: ['code'],
            ...(options.backchannelLogoutUri
              ? { backchannel_logout_uri: options.backchannelLogoutUri, backchannel_logout_session_required: true }
              : {}),
          },
          ...((options.clients ?? []) as never[]),
        ],
        jwks: { keys: [signingKey, ...extraKeys] },
        cookies: { keys: ['latchkey-dev-cookie-key'] },
        findAccount: (_ctx, id) => ({
          accountId: id,
          claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: true, name: id, ...extraClaims }),
        }),
        claims: { openid: ['sub', ...Object.keys(extraClaims)], email: ['email', 'email_verified'], profile: ['name'] },
        conformIdTokenClaims: false,
        features: {
          devInteractions: { enabled: true },
          deviceFlow: { enabled: options.deviceFlow ?? true },
          revocation: { enabled: options.revocation ?? true },
          // Any client may introspect any token: tests ask whether a revoked token is still active.
          introspection: { enabled: true, allowedPolicy: () => Promise.resolve(true) },
          clientCredentials: { enabled: true },
          ...(options.backchannelLogoutUri ? { backchannelLogout: { enabled: true } } : {}),
          // Plain pages of its own for RP-initiated logout (the defaults print a notice each time).
          rpInitiatedLogout: {
            enabled: true,
            logoutSource: (ctx, form) => {
              ctx.body =
                `<!DOCTYPE html><html><head><title>Logout Request</title></head><body><h1>Sign out of ${ctx.host}?</h1>${form}` +
                '<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>' +
                '<button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>';
              return Promise.resolve();
            },
            postLogoutSuccessSource: (ctx) => {
              ctx.body = '<!DOCTYPE html><html><head><title>Signed out</title></head><body><h1>You are signed out.</h1></body></html>';
              return Promise.resolve();
            },
          },
          ...(options.jwtAccessTokensFor
            ? {
                resourceIndicators: {
                  enabled: true,
                  defaultResource: () => options.jwtAccessTokensFor!,
                  useGrantedResource: () => true,
                  getResourceServerInfo: () => ({
                    scope: resourceScope,
                    audience: options.accessTokenAudience ?? options.jwtAccessTokensFor!,
                    accessTokenFormat: 'jwt',
                    jwt: { sign: { alg: 'RS256' } },
                  }),
                },
              }
            : options.registration
              ? {
                  resourceIndicators: {
                    enabled: true,
                    defaultResource: () => undefined as unknown as string,
                    useGrantedResource: () => true,
                    getResourceServerInfo: (_ctx: unknown, resource: string) => {
                      if (!resourceServers.has(resource)) throw new errors.InvalidTarget();
                      return { scope: resourceScope, audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
                    },
                  },
                }
              : {}),
          ...(options.registration ? { registration: { enabled: true }, registrationManagement: { enabled: true } } : {}),
        },
        // The user's email in the JWT access tokens of registered clients, as many IdPs are set up to do.
        ...(options.registration
          ? {
              extraTokenClaims: (_ctx: unknown, token: object) =>
                'accountId' in token && typeof token.accountId === 'string' ? { email: `${token.accountId}@example.com` } : undefined,
            }
          : {}),
        pkce: { required: () => true },
        scopes: ['openid', 'offline_access', 'profile', 'email', 'account:usage:read', 'account:usage:write'],
        ...(options.clientAuthMethods ? { clientAuthMethods: options.clientAuthMethods } : {}),
        ttl: {
          AccessToken: options.accessTokenTtl ?? 3600,
          IdToken: 3600,
          RefreshToken: 86400,
          Interaction: 600,
          Session: 3600,
          Grant: 86400,
          DeviceCode: options.deviceCodeTtl ?? 600,
          ClientCredentials: options.clientCredentialsTtl ?? 600,
        },
        // Refresh tokens for the native client whenever offline_access was granted.
        issueRefreshToken: (_ctx, client, code) =>
          Promise.resolve(
            client.grantTypeAllowed('refresh_token') &&
              (options.refreshTokenFor
                ? options.refreshTokenFor((code as unknown as { codeChallenge?: string }).codeChallenge, code.scopes)
                : code.scopes.has('offline_access')),
          ),
      }),
  );
  provider.proxy = false;

  const idp: DevIdp = {
    issuer,
    port: (server.address() as AddressInfo).port,
    clientId,
    signingKey,
    tamperIdToken: undefined,
    requests: [],
    hooks: {},
    resourceServers,
    provider,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  provider.use(async (ctx, next) => {
    idp.requests.push(`${ctx.method} ${ctx.path}`);
    if (await idp.hooks.before?.(ctx)) return;
    await next();
    await idp.hooks.after?.(ctx);
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === '/token' && idp.tamperIdToken && body && typeof body.id_token === 'string') {
      body.id_token = await idp.tamperIdToken(body.id_token);
    }
  });
  // Quiet: the dev IdP's own warnings about development settings are expected here.
  provider.on('server_error', (_ctx, error) => console.error('dev IdP error:', error));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    options.front?.(req);
    // An issuer of "/" alone is the root with a trailing slash (LemonLDAP::NG's form), not a mount.
    const mount = options.issuerPath === '/' ? undefined : options.issuerPath;
    if (mount) {
      // Mounted under the issuer's path, as behind express' app.use(path, …): oidc-provider reads
      // the mount path from originalUrl.
      if (!req.url?.startsWith(mount)) return void res.writeHead(404).end();
      (req as typeof req & { originalUrl?: string }).originalUrl = req.url;
      req.url = req.url.slice(mount.length) || '/';
    }
    void callback(req, res);
  });
  return idp;
}
