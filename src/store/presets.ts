import { isOktaOrgIssuer } from '../token/idp-diagnostics.js';
import type { PresetName, Profile } from './profile-keys.js';

/**
 * The documented quirks of the IdPs people have, as profile defaults. `profile add` applies a
 * preset (given with --preset, or detected from the issuer) to every key the user did not give,
 * and says what it set and why; each key stays overridable with `profile set`. docs/idps.md has
 * the registration steps behind each one.
 */
export interface Preset {
  name: Exclude<PresetName, 'none'>;
  /** The IdP's name as users know it. */
  title: string;
  /** Whether an issuer URL is this IdP's. */
  detect(issuer: URL): boolean;
  /** Keys set when the user did not give them, each with the reason. */
  defaults(profile: Profile): Array<{ key: keyof Profile; value: unknown; why: string }>;
  /** What the user should know or do for this profile (printed by `profile add`; `<name>` and `<ENV>` are filled in). */
  advice(profile: Profile): string[];
}

/** Auth0 and Okta match callback URLs exactly, port included: fixed ports to register, with fallbacks. */
const EXACT_REDIRECT = [
  { key: 'redirectUri', value: 'http://127.0.0.1:8484/callback', why: 'callback URLs must match exactly, port included' },
  { key: 'redirectPorts', value: [8485, 8486], why: 'fallbacks when 8484 is taken, to register too' },
] as const;

const exactRedirectAdvice = (title: string, where: string) =>
  `Register http://127.0.0.1:8484/callback,` +
  ` http://127.0.0.1:8485/callback and http://127.0.0.1:8486/callback as ${where} of the ${title} application.`;

export const PRESETS: readonly Preset[] = [
  {
    name: 'auth0',
    title: 'Auth0',
    detect: (issuer) => /(^|\.)auth0\.com$/i.test(issuer.hostname),
    defaults: () => [...EXACT_REDIRECT],
    advice: (profile) => [
      exactRedirectAdvice('Auth0', 'Allowed Callback URLs'),
      ...(profile.audience
        ? []
        : [
            "Without --audience (your API's identifier)," +
              ' Auth0 issues an opaque access token that only Auth0 can read:' +
              ' set it with profile set <name> audience https://api.example.com.',
          ]),
      'Refresh tokens need offline_access (in the default scopes) and "Allow Offline Access" on the API.',
      'For an Auth0 Organization: --auth-param organization=org_…',
    ],
  },
  {
    name: 'okta',
    title: 'Okta',
    detect: (issuer) => /(^|\.)(okta|oktapreview|okta-emea)\.com$/i.test(issuer.hostname),
    defaults: () => [...EXACT_REDIRECT],
    advice: (profile) => [
      exactRedirectAdvice('Okta', 'Sign-in redirect URIs'),
      ...(isOktaOrgIssuer(profile.issuer)
        ? [
            `${profile.issuer} is the org authorization server: its access tokens are for Okta's own APIs` +
              ' and not meant to be validated by your backend.' +
              ` For your API use a custom authorization server, e.g. ${profile.issuer.replace(/\/+$/, '')}/oauth2/default.`,
          ]
        : []),
    ],
  },
  {
    name: 'entra',
    title: 'Entra ID',
    detect: (issuer) => issuer.hostname.toLowerCase() === 'login.microsoftonline.com',
    defaults: () => [
      { key: 'redirectUri', value: 'http://localhost:0/callback', why: 'Entra accepts http://localhost with any port for public clients' },
    ],
    advice: (profile) => [
      'Register http://localhost as a redirect URI of the "Mobile and desktop applications" platform, and allow public client flows.',
      ...(/\/(common|organizations|consumers)(\/|$)/i.test(new URL(profile.issuer).pathname)
        ? [
            'A multi-tenant issuer:' +
              ' its discovery names https://login.microsoftonline.com/{tenantid}/v2.0,' +
              ' and each id_token is checked against its own tenant (tid).',
          ]
        : []),
      'For your API, ask for its scope: profile set <name> scopes "openid profile offline_access api://<app-id>/.default".',
      'Entra offers no token revocation: logout removes the local credential only.',
    ],
  },
  {
    name: 'google',
    title: 'Google',
    detect: (issuer) => issuer.hostname.toLowerCase() === 'accounts.google.com',
    defaults: () => [
      { key: 'scopes', value: 'openid email profile', why: 'offline_access is an invalid scope at Google' },
      { key: 'authParams', value: ['access_type=offline'], why: 'Google grants a refresh token for access_type=offline' },
      { key: 'prompt', value: 'consent', why: 'and only on consent' },
      {
        key: 'tokenEndpointAuthMethod',
        value: 'client_secret_post',
        why: 'a Desktop client sends its client secret, which Google does not treat as confidential',
      },
    ],
    advice: () => [
      'Create an OAuth client of type "Desktop app".' +
        ' Give its client secret at login with <ENV>_CLIENT_SECRET (or --client-secret-stdin);' +
        ' it is kept in the keychain with the credential.',
      "Google's access tokens are opaque (ya29.…): the id_token is the JWT, and a backend exchange uses it.",
    ],
  },
  {
    name: 'keycloak',
    title: 'Keycloak',
    detect: (issuer) => /\/realms\/[^/]+\/?$/.test(issuer.pathname),
    defaults: () => [],
    advice: () => [
      'The issuer is the realm: https://HOST/realms/NAME (older versions: /auth/realms/NAME).',
      'Create a public OpenID Connect client with "Standard flow" on and redirect URI http://127.0.0.1/* (or the exact one).',
      'Access tokens name "account" in aud and the client in azp; refresh tokens are HS-signed JWTs, not meant to be verified by clients.',
    ],
  },
];

/** The preset named, or the one whose IdP serves `issuer`; none for `preset: none`. */
export function presetFor(profile: Pick<Profile, 'issuer' | 'preset'>): Preset | undefined {
  if (profile.preset) return PRESETS.find((preset) => preset.name === profile.preset);
  let issuer: URL;
  try {
    issuer = new URL(profile.issuer);
  } catch {
    return undefined;
  }
  return PRESETS.find((preset) => preset.detect(issuer));
}

/**
 * Apply `preset` to the keys `given` does not set. Returns the profile and what was set, for the
 * message ("applied the Entra ID preset: redirectUri http://localhost:0/callback (…)").
 */
export function applyPreset(given: Profile, preset: Preset): { profile: Profile; applied: string[] } {
  const profile: Profile = { ...given, preset: preset.name };
  const applied: string[] = [];
  for (const { key, value, why } of preset.defaults(profile)) {
    if (given[key] !== undefined) continue;
    (profile as unknown as Record<string, unknown>)[key] = value;
    applied.push(`${key} ${Array.isArray(value) ? value.join(',') : String(value)} (${why})`);
  }
  return { profile, applied };
}
