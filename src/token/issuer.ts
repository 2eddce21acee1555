import type { JsonObject } from './decode.js';

/**
 * Which IdP family, and which flavour of it, issued a token: from `iss` and the claims alone (no
 * network). Each rule is what the family documents about its issuer identifiers. Nothing here is
 * trusted: it names what the token claims to be, for a person reading it.
 */

export type IssuerFamily =
  'entra' | 'google' | 'cognito' | 'okta' | 'auth0' | 'keycloak' | 'apple' | 'github' | 'gitlab' | 'kubernetes' | 'spiffe' | 'unknown';

export interface IssuerInfo {
  family: IssuerFamily;
  /** The product's name, as its vendor writes it. */
  name: string;
  /** Which variant of it: `v1.0`, `service account`, `custom authorization server`… */
  flavour: string | null;
  /** What the issuer and claims say about the tenant, pool, realm, region or project. */
  facts: Record<string, string>;
  /** The one line shown: family, flavour and facts. */
  summary: string;
}

/** Entra ID's tenant of personal Microsoft accounts (the `consumers` tenant). */
export const ENTRA_PERSONAL_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function parse(iss: string): URL | undefined {
  try {
    return new URL(iss);
  } catch {
    return undefined;
  }
}

function info(family: IssuerFamily, name: string, flavour: string | null, facts: Record<string, string> = {}): IssuerInfo {
  const details = Object.entries(facts).map(([key, value]) => `${key} ${value}`);
  const summary = [flavour ? `${name} — ${flavour}` : name, ...details].join(', ');
  return { family, name, flavour, facts, summary };
}

/** The IdP family and flavour a token claims to come from, or `unknown issuer`. */
export function identifyIssuer(header: JsonObject, claims: JsonObject | null): IssuerInfo {
  const iss = str(claims?.iss) ?? str(header.iss) ?? '';
  const c = claims ?? {};
  const url = parse(iss);
  const host = url?.hostname.toLowerCase() ?? '';
  const path = url?.pathname ?? '';
  const segments = path.split('/').filter(Boolean);

  // Microsoft Entra ID: v1.0 tokens come from sts.windows.net/{tenant}/, v2.0 from login.microsoftonline.com/{tenant}/v2.0.
  if (
    /^sts\.windows(-ppe)?\.net$/.test(host) ||
    /^login\.(microsoftonline\.(com|us)|windows(-ppe)?\.net|chinacloudapi\.cn|partner\.microsoftonline\.cn)$/.test(host)
  ) {
    const v2 = segments[1] === 'v2.0';
    const tenant = segments[0] ?? str(c.tid) ?? '?';
    const facts: Record<string, string> = { tenant };
    if (tenant === ENTRA_PERSONAL_TENANT) facts.accounts = 'personal Microsoft accounts (the consumers tenant)';
    const ver = str(c.ver);
    if (ver !== undefined && ver !== (v2 ? '2.0' : '1.0')) facts.tokenVersion = ver;
    if (/-ppe\./.test(host)) facts.cloud = 'pre-production (PPE)';
    return info('entra', 'Microsoft Entra ID', v2 ? 'v2.0 endpoint' : `v1.0 (${host})`, facts);
  }
  if (/\.(b2clogin|ciamlogin)\.com$/.test(host))
    return info('entra', 'Microsoft Entra ID', host.endsWith('.b2clogin.com') ? 'Azure AD B2C' : 'External ID', {
      tenant: segments[0] ?? host.split('.')[0]!,
    });

  // Google: accounts.google.com signs user and service-account id_tokens alike.
  if (host === 'accounts.google.com' || iss === 'accounts.google.com') {
    const email = str(c.email) ?? '';
    const azp = str(c.azp) ?? '';
    const serviceAccount =
      /\.gserviceaccount\.com$/.test(email) || /\.gserviceaccount\.com$/.test(azp) || (!email && azp !== '' && azp === str(c.sub));
    const facts: Record<string, string> = {};
    if (serviceAccount && email) facts.serviceAccount = email;
    if (!serviceAccount && str(c.hd)) facts.workspaceDomain = str(c.hd)!;
    return info('google', 'Google', serviceAccount ? 'service account' : 'user account', facts);
  }
  if (host === 'cloud.google.com' && path.startsWith('/iap')) return info('google', 'Google', 'Identity-Aware Proxy');
  if (host === 'securetoken.google.com') return info('google', 'Google', 'Firebase Authentication', { project: segments[0] ?? '?' });

  // Amazon Cognito: https://cognito-idp.{region}.amazonaws.com/{userPoolId}.
  const cognito = /^cognito-idp\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
  if (cognito) return info('cognito', 'Amazon Cognito', 'user pool', { userPool: segments[0] ?? '?', region: cognito[1]! });

  // Okta: the org authorization server is the bare org URL; a custom one is /oauth2/{id}.
  if (/(^|\.)(okta|oktapreview|okta-emea|okta-gov)\.com$/.test(host)) {
    const custom = segments[0] === 'oauth2' && segments[1] !== undefined;
    return info('okta', 'Okta', custom ? 'custom authorization server' : 'org authorization server', {
      org: host.split('.')[0]!,
      ...(custom ? { authorizationServer: segments[1]! } : {}),
    });
  }
  // Auth0: https://{tenant}[.{region}].auth0.com/ (a custom domain hides it).
  if (host.endsWith('.auth0.com')) {
    const labels = host.split('.');
    return info('auth0', 'Auth0', null, { tenant: labels[0]!, ...(labels.length > 3 ? { region: labels[1]! } : {}) });
  }
  if (host === 'appleid.apple.com') return info('apple', 'Sign in with Apple', null, str(c.aud) ? { app: str(c.aud)! } : {});

  // GitHub Actions (github.com and enterprises with a custom issuer), GitHub Enterprise Server.
  if (host === 'token.actions.githubusercontent.com')
    return info(
      'github',
      'GitHub Actions',
      segments[0] ? 'enterprise issuer' : 'github.com',
      segments[0] ? { enterprise: segments[0] } : {},
    );
  if (path.startsWith('/_services/token') && (c.repository !== undefined || c.job_workflow_ref !== undefined))
    return info('github', 'GitHub Actions', 'GitHub Enterprise Server', { host });
  // GitLab CI id_tokens: https://gitlab.com, or the instance's own URL.
  if (host === 'gitlab.com') return info('gitlab', 'GitLab', 'GitLab.com');
  if (c.project_path !== undefined && c.namespace_path !== undefined && (c.pipeline_id !== undefined || c.ci_config_ref_uri !== undefined))
    return info('gitlab', 'GitLab', 'self-managed', { host: host || iss });

  // Kubernetes service-account tokens: legacy (`kubernetes/serviceaccount`) or projected (the cluster's issuer).
  const k8sClaims = isObject(c['kubernetes.io']) || c['kubernetes.io/serviceaccount/namespace'] !== undefined;
  if (iss === 'kubernetes/serviceaccount') return info('kubernetes', 'Kubernetes', 'legacy service-account token');
  const eks = /^oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
  if (eks) return info('kubernetes', 'Kubernetes', 'Amazon EKS', { region: eks[1]!, cluster: segments[1] ?? '?' });
  if (host === 'container.googleapis.com') return info('kubernetes', 'Kubernetes', 'Google GKE', gkeFacts(segments));
  if (host.endsWith('.oic.prod-aks.azure.com')) return info('kubernetes', 'Kubernetes', 'Azure AKS');
  if (/^kubernetes\.default\.svc(\.|$)/.test(host) || k8sClaims)
    return info(
      'kubernetes',
      'Kubernetes',
      host.startsWith('kubernetes.default.svc') ? 'in-cluster issuer' : 'service-account issuer',
      host ? { issuer: host } : {},
    );

  // Keycloak: {base}/realms/{realm} (before Keycloak 17, {base}/auth/realms/{realm}).
  const realm = segments.indexOf('realms');
  if (realm >= 0 && segments[realm + 1] !== undefined)
    return info('keycloak', 'Keycloak', segments[realm - 1] === 'auth' ? 'legacy /auth path' : null, { realm: segments[realm + 1]! });

  const sub = str(c.sub);
  if (sub?.startsWith('spiffe://'))
    return info('spiffe', 'SPIFFE', 'JWT-SVID', { trustDomain: sub.slice('spiffe://'.length).split('/')[0] ?? '' });
  return {
    family: 'unknown',
    name: 'unknown issuer',
    flavour: null,
    facts: {},
    summary: iss ? 'unknown issuer' : 'unknown issuer (no iss)',
  };
}

function gkeFacts(segments: string[]): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const key of ['projects', 'locations', 'clusters']) {
    const at = segments.indexOf(key);
    if (at >= 0 && segments[at + 1]) facts[key.replace(/s$/, '')] = segments[at + 1]!;
  }
  return facts;
}
