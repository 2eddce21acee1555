import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/token/decode.js';
import { inspect, type Inspection, type InspectOptions } from '../../src/token/inspect.js';
import { renderInspection } from '../../src/token/render.js';

// Real tokens other people published (IdP documentation, SDK and library test fixtures): each
// fixture names its source and licence. `holdout.json` is never asserted token by token: it
// measures whether the rules, written from what each IdP documents, hold on tokens they were
// not tuned to.
interface RealToken {
  id: string;
  token: string;
  source: string;
  licence: string;
  issuerFamily: string;
  expectedKind: string;
}
const load = (file: string): RealToken[] =>
  (JSON.parse(readFileSync(new URL(`../fixtures/tokens/${file}`, import.meta.url), 'utf8')) as { tokens: RealToken[] }).tokens;
const REAL = load('real-tokens.json');
const HOLDOUT = load('holdout.json');
const byId = new Map([...REAL, ...HOLDOUT].map((t) => [t.id, t]));

/** The token as inspected at the moment it was issued: its age must not hide the other diagnostics. */
function atIssue(fixture: RealToken, options: Partial<InspectOptions> = {}): Inspection {
  const decoded = decodeJwt(fixture.token);
  const claims = decoded.claims ?? {};
  const at = Number(claims.iat ?? claims.nbf ?? (typeof claims.exp === 'number' ? claims.exp - 60 : 1_700_000_000));
  return inspect(decoded, { now: new Date((at + 1) * 1000), ...options });
}
const real = (id: string, options: Partial<InspectOptions> = {}) => atIssue(byId.get(id)!, options);
const codes = (result: Inspection, level?: string) => result.diagnostics.filter((d) => !level || d.level === level).map((d) => d.code);

/** Error-level findings that are true of a real token, not a contradiction of what its issuer documents. */
const REAL_ERRORS: Record<string, string[]> = {
  // Entra's v1.0 on-behalf-of answer printed in its docs carries an unsigned id_token.
  'entra-v1-obo-id-unsigned': ['alg_none'],
};

describe('every real token: kind, issuer family, evidence, and no error its issuer calls normal', () => {
  it('the collection is real and broad: at least 10 issuer families, each token with its source and licence', () => {
    const families = new Set([...REAL, ...HOLDOUT].map((t) => t.issuerFamily).filter((f) => f !== 'unknown'));
    expect(families.size).toBeGreaterThanOrEqual(10);
    for (const t of [...REAL, ...HOLDOUT]) {
      expect(t.source, t.id).toMatch(/\S/);
      expect(t.licence, t.id).toMatch(/\S/);
    }
  });

  it.each(REAL.map((t) => [t.id, t] as const))('%s', (_id, fixture) => {
    const result = atIssue(fixture);
    expect(result.kind).toBe(fixture.expectedKind);
    expect(result.issuer.family).toBe(fixture.issuerFamily);
    expect(result.evidence.length).toBeGreaterThan(0);
    expect(codes(result, 'error')).toEqual(REAL_ERRORS[fixture.id] ?? []);
  });
});

describe('held-out real tokens: the rules generalise', () => {
  it('>= 95 % get the right kind, none is refused, no error-level diagnostic beyond what is true', () => {
    let right = 0;
    const wrong: string[] = [];
    for (const fixture of HOLDOUT) {
      const result = atIssue(fixture); // throws if refused
      if (result.kind === fixture.expectedKind) right += 1;
      else wrong.push(`${fixture.id}: ${result.kind}`);
      expect(codes(result, 'error'), fixture.id).toEqual(REAL_ERRORS[fixture.id] ?? []);
    }
    expect(right / HOLDOUT.length, wrong.join('; ')).toBeGreaterThanOrEqual(0.95);
  });
});

describe('per issuer family: the issuer line and its pitfalls', () => {
  it('Entra ID v1.0 access token: flavour, tenant, and the v1 warning', () => {
    const result = real('entra-v1-access');
    expect(result.issuer).toMatchObject({
      family: 'entra',
      flavour: 'v1.0 (sts.windows.net)',
      facts: { tenant: 'fa15d692-e9c7-4460-a743-29f29522229' },
    });
    expect(result.evidence).toEqual(expect.arrayContaining(['scp', 'appid']));
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'entra_v1_token', level: 'warning' }));
  });

  it('Entra ID v1.0 token whose audience is an App ID URI: info, never an error', () => {
    const result = real('entra-v1-obo-assertion-appiduri');
    expect(result.kind).toBe('access_token');
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'entra_app_id_uri_audience', level: 'info' }));
    // Even against a profile that expects another audience: an access token's aud names the API.
    expect(codes(real('entra-v1-obo-assertion-appiduri', { clientId: 'cli' }), 'error')).toEqual([]);
  });

  it('Entra ID v1.0 id_token as the docs print it (= padding): decoded with a warning, id_token by its nonce', () => {
    const result = real('entra-v1-id');
    expect(result.kind).toBe('id_token');
    expect(result.evidence).toEqual(expect.arrayContaining(['nonce']));
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'base64_padding', level: 'warning' }));
    expect(result.diagnostics.find((d) => d.code === 'entra_v1_token')?.message).toContain('/oauth2/v2.0/authorize');
  });

  it('Entra ID v1.0 id_token without nonce (an on-behalf-of answer) is still an id_token', () => {
    expect(real('entra-v1-obo-id-unsigned')).toMatchObject({ kind: 'id_token', evidence: ['Entra ID: no scp, roles, appid or azp'] });
  });

  it('Entra ID v2.0, the personal-accounts tenant, is named as such', () => {
    const result = real('msal-idtoken-v2-consumers');
    expect(result.issuer).toMatchObject({ flavour: 'v2.0 endpoint', facts: { tenant: '9188040d-6c67-4c5b-b112-36a304b66dad' } });
    expect(result.issuer.summary).toContain('personal Microsoft accounts');
    expect(real('entra-v2-id').issuer.summary).not.toContain('personal');
  });

  it('a Microsoft Graph token (nonce in its header): only Graph can verify it', () => {
    const result = real('msal-graph-pop');
    expect(result).toMatchObject({ kind: 'access_token', issuer: { family: 'entra', facts: { cloud: 'pre-production (PPE)' } } });
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'entra_graph_token', level: 'warning' }));
  });

  it('Google: service-account id_tokens (no nonce, aud a URL) and user id_tokens', () => {
    const sa = real('google-sa-federated');
    expect(sa).toMatchObject({ kind: 'id_token', issuer: { flavour: 'service account' } });
    expect(sa.issuer.facts.serviceAccount).toBe('integration-tests@chingor-test.iam.gserviceaccount.com');
    expect(real('google-sa-firestore')).toMatchObject({ kind: 'id_token', issuer: { flavour: 'service account' } });
    expect(sa.diagnostics).toEqual([]);
    expect(real('google-iap-es256').issuer.flavour).toBe('Identity-Aware Proxy');
  });

  it('Google user id_token with NumericDates as strings, HS256-signed (a fixture): accepted, with warnings', () => {
    const result = real('warehouse-google-dummy-string-dates');
    expect(result).toMatchObject({ kind: 'id_token', issuer: { flavour: 'user account', facts: { workspaceDomain: 'google.com' } } });
    expect(codes(result, 'warning')).toEqual(['alg_symmetric', 'numeric_date_string']);
    // The string times are read as times: at issue it is fresh, an hour later it has expired.
    const later = inspect(decodeJwt(byId.get('warehouse-google-dummy-string-dates')!.token), { now: new Date(1_650_060_000_000) });
    expect(codes(later, 'error')).toEqual(['expired']);
  });

  it('Keycloak: access, refresh and id tokens told apart by its typ claim; realm; header with spaces around colons', () => {
    const access = real('keycloak-ca3s-access');
    expect(access.header.typ).toBe('JWT');
    expect(access).toMatchObject({
      kind: 'access_token',
      evidence: ['typ: Bearer'],
      issuer: { family: 'keycloak', flavour: 'legacy /auth path', facts: { realm: 'ca3sRealm' } },
    });
    const refresh = real('keycloak-taskboard-refresh');
    expect(refresh).toMatchObject({
      kind: 'refresh_token',
      evidence: ['typ: Refresh'],
      issuer: { flavour: null, facts: { realm: 'TodoRealm' } },
    });
    expect(refresh.diagnostics).toContainEqual(expect.objectContaining({ code: 'keycloak_refresh_token', level: 'info' }));
    expect(codes(refresh)).not.toContain('alg_symmetric');
    // A refresh token names the realm as its audience: not a mismatch with the profile's client.
    expect(codes(real('keycloak-taskboard-refresh', { clientId: 'my-client' }), 'error')).toEqual([]);
    expect(real('keycloak-ca3s-id')).toMatchObject({ kind: 'id_token', evidence: ['typ: ID'] });
  });

  it('Cognito: id and access tokens by token_use, client credentials by sub = client_id; pool and region (escaped slashes)', () => {
    const id = real('cognito-id-apse1');
    expect(id).toMatchObject({ kind: 'id_token', evidence: ['token_use: id'] });
    expect(id.issuer).toMatchObject({ family: 'cognito', facts: { userPool: 'ap-southeast-1_Sly3MWVC8', region: 'ap-southeast-1' } });
    expect(real('cognito-access-user')).toMatchObject({ kind: 'access_token', evidence: ['token_use: access', 'scope'] });
    expect(real('cognito-access-client-credentials')).toMatchObject({
      kind: 'service_token',
      evidence: ['token_use: access', 'sub = client_id'],
    });
  });

  it('Auth0: machine-to-machine tokens, tenant and region', () => {
    expect(real('auth0-m2m-eu')).toMatchObject({
      kind: 'service_token',
      evidence: ['gty: client-credentials'],
      issuer: { family: 'auth0', facts: { tenant: 'iraguha', region: 'eu' } },
    });
  });

  it('Apple: id_tokens (its only JWTs), with c_hash or at_hash', () => {
    const result = real('apple-id-at-hash');
    expect(result).toMatchObject({ kind: 'id_token', issuer: { family: 'apple', facts: { app: 'apple.signin.dian' } } });
    expect(result.evidence).toEqual(expect.arrayContaining(['at_hash', 'auth_time']));
  });

  it('GitHub Actions: what the token identifies (repository, workflow, ref)', () => {
    const result = real('github-actions-qoomon');
    expect(result).toMatchObject({ kind: 'github_actions', issuer: { family: 'github', flavour: 'github.com' } });
    expect(result.identity).toMatchObject({
      repository: 'qoomon/sandbox',
      workflow: 'qoomon/sandbox/.github/workflows/github_actions_access_manager.example.yml@refs/heads/aws-github-access-manager',
      ref: 'refs/heads/aws-github-access-manager',
    });
  });

  it('GitLab CI: project, ref and pipeline', () => {
    const result = real('warehouse-gitlab-dummy');
    expect(result).toMatchObject({ kind: 'gitlab_ci', issuer: { family: 'gitlab', flavour: 'GitLab.com' } });
    expect(result.identity).toMatchObject({ project: 'foo/bar', ref: 'main', pipeline: '123' });
  });

  it('Kubernetes: legacy and projected service-account tokens, namespace and service account; EKS with its region', () => {
    const legacy = real('k8s-legacy-openyurt-kube-system');
    expect(legacy).toMatchObject({ kind: 'kubernetes_sa', issuer: { flavour: 'legacy service-account token' } });
    expect(legacy.identity).toMatchObject({ namespace: 'kube-system', serviceAccount: 'default', secret: 'default-token-qwsfm' });
    expect(legacy.identity?.token).toMatch(/^legacy/);
    const eks = real('k8s-projected-eks');
    expect(eks.issuer).toMatchObject({ family: 'kubernetes', flavour: 'Amazon EKS', facts: { region: 'eu-central-1' } });
    expect(eks.identity).toMatchObject({ namespace: 'kubernetes-dashboard', serviceAccount: 'admin-user' });
    expect(eks.identity?.token).toMatch(/^projected/);
  });

  it('SPIFFE JWT-SVID: the SPIFFE ID and trust domain', () => {
    expect(real('spiffe-svid-tutorial')).toMatchObject({
      kind: 'spiffe_svid',
      issuer: { family: 'spiffe', facts: { trustDomain: 'example.org' } },
      identity: { spiffeId: 'spiffe://example.org/ns/default/sa/default/frontend', trustDomain: 'example.org' },
    });
  });

  it('RFC 9449 DPoP proof: dpop_proof, unknown issuer, no audience to mismatch', () => {
    const result = real('rfc9449-dpop-proof', { clientId: 'cli', expectedIssuer: undefined });
    expect(result).toMatchObject({
      kind: 'dpop_proof',
      evidence: ['typ: dpop+jwt', 'htm', 'htu'],
      issuer: { family: 'unknown', summary: 'unknown issuer (no iss)' },
    });
    expect(result.diagnostics).toEqual([]);
  });

  it('OpenID request object (RFC 9101), pasted with the line wraps the spec prints: request_object, not an access token', () => {
    const fixture = byId.get('openid-core-request-object')!;
    expect(fixture.token).toContain('\n');
    const result = atIssue(fixture);
    expect(result).toMatchObject({ kind: 'request_object', evidence: ['response_type', 'client_id', 'redirect_uri', 'scope'] });
    expect(result.issuer.summary).toBe('unknown issuer');
  });
});

describe('rendering the new lines', () => {
  it('Kind with its evidence, Issuer, Identity', () => {
    const lines = renderInspection(real('github-actions-qoomon'), { now: new Date(1_696_164_400_000), color: false });
    expect(lines).toContain('Kind       github_actions  (iss: token.actions.githubusercontent.com)');
    expect(lines).toContain('Issuer     GitHub Actions — github.com');
    expect(lines.find((l) => l.startsWith('Identity'))).toMatch(
      /^Identity {3}repository qoomon\/sandbox, workflow qoomon\/sandbox\/.*, ref refs\/heads\/aws-github-access-manager/,
    );
    const keycloak = renderInspection(real('keycloak-ca3s-id'), { now: new Date(), color: false });
    expect(keycloak).toContain('Kind       id_token  (typ: ID)');
    expect(keycloak).toContain('Issuer     Keycloak — legacy /auth path, realm ca3sRealm');
  });
});
