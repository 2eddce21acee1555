import type { JWTPayload } from 'jose';
import { checkHeader, checkIssuer, checkSignature, checkTimes, failure } from '../token/id-token.js';
import { checkIssuerSettings, issuerKeys, keysVerdict, type IssuerKeysOptions } from './keys.js';
import type { SubjectResult } from './subjects.js';

/**
 * Workload identity (DESIGN, "Workload identity"): a CI job or a pod logs in with the OIDC token
 * its platform issued it (GitHub Actions, GitLab CI `id_tokens`, a Kubernetes projected
 * service-account token), for this backend's audience. The token is checked like an id_token
 * (asymmetric `alg`, the platform's keys through the same key cache, `iss`, `exp`/`iat`), its
 * `aud` must be this backend exactly, and a policy over its claims decides which `service`
 * subject it becomes, or refuses it with a reason the CLI shows. docs/workload.md lists the
 * pitfalls a policy must avoid.
 */

/** A policy's verdict: the service the workload is, or why it is refused (sent to the CLI). */
export type WorkloadDecision =
  | {
      allow: true;
      /** How the service is shown (logs, session lists). */
      name: string;
      /** What it may do here. */
      scopes: readonly string[];
      /** The subject's key (`service:<clientId>`); default `workload:<iss>#<sub>`. */
      clientId?: string;
    }
  | { allow: false; reason: string };

/** Decides over a verified token's claims; it runs only after every token check passed. */
export type WorkloadPolicy = (claims: JWTPayload) => WorkloadDecision | Promise<WorkloadDecision>;

export interface WorkloadVerifierOptions extends IssuerKeysOptions {
  /** The audience the workload's token must be for, exactly (the CLI asks for the backend's origin by default). */
  audience: string;
  policy: WorkloadPolicy;
  clockToleranceSec?: number;
  /** A token issued longer ago than this is refused (seconds); default one hour (platform tokens live minutes). */
  maxAgeSec?: number;
}

/** Verify one platform token; `issuer` is what the CLI-auth handler routes by. */
export interface WorkloadVerifier {
  (token: string): Promise<SubjectResult>;
  readonly issuer: string;
  readonly audience: string;
  /** Resolves when the platform's keys could be loaded; rejects with why otherwise. */
  ready(): Promise<void>;
}

/**
 * A verifier for one platform's workload tokens: header, signature (the platform's JWKS, cached
 * as the other verifiers cache theirs), `iss`, `exp`/`iat`, `aud` exactly `audience`, then the
 * policy. A setting that cannot work throws here, at start-up.
 */
export function createWorkloadVerifier(options: WorkloadVerifierOptions): WorkloadVerifier {
  const where = 'createWorkloadVerifier';
  checkIssuerSettings(where, options);
  if (typeof options.audience !== 'string' || options.audience.trim() === '')
    throw new TypeError(`${where}: audience must name this backend (its origin, or what the workloads ask for)`);
  if (typeof options.policy !== 'function')
    throw new TypeError(`${where}: policy must be a function over the claims (e.g. githubActionsPolicy({...}))`);
  const now = options.now ?? (() => new Date());
  const toleranceSec = options.clockToleranceSec ?? 60;
  const maxAgeSec = options.maxAgeSec ?? 3600;
  const { keys, ready } = issuerKeys(options);

  const verify = async (token: string): Promise<SubjectResult> => {
    const header = checkHeader(token);
    if (header) return header;
    const signed = await checkSignature(token, keys, { now: now(), toleranceSec });
    if ('ok' in signed) return keysVerdict(signed) as SubjectResult;
    const { claims } = signed;
    const refused =
      checkIssuer(claims, options.issuer) ??
      checkTimes(claims, { now: now(), toleranceSec, maxAgeSec }) ??
      checkExactAudience(claims, options.audience);
    if (refused) return refused;
    let decision: WorkloadDecision;
    try {
      decision = await options.policy(claims);
    } catch (error) {
      return { ok: false, reason: 'workload_refused', message: `the policy failed: ${(error as Error).message}`, cause: error };
    }
    if (!decision.allow) return { ok: false, reason: 'workload_refused', message: decision.reason };
    const clientId = decision.clientId ?? `workload:${String(claims.iss)}#${String(claims.sub)}`;
    return { ok: true, claims, subject: { kind: 'service', clientId, name: decision.name, scopes: [...decision.scopes], claims } };
  };
  return Object.assign(verify, { issuer: options.issuer, audience: options.audience, ready });
}

/**
 * `aud` is this backend and nothing else: a platform token names one audience, and one written
 * for several services (or for the platform's own default, as GitHub's `https://github.com/OWNER`)
 * is a token some other service could replay here.
 */
function checkExactAudience(claims: JWTPayload, audience: string) {
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (aud.length === 1 && aud[0] === audience) return undefined;
  return failure('audience_not_allowed', `aud ${JSON.stringify(claims.aud)} is not exactly ${JSON.stringify(audience)}`);
}

/** GitHub Actions' OIDC issuer (tokens from github.com; GHES and data residency have their own). */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

export interface GithubActionsPolicyOptions {
  /** The owner's numeric id (`repository_owner_id`): a name can be re-registered after a rename, an id cannot. */
  repositoryOwnerId: string | number;
  /** `owner/name`, as in the `repository` claim. */
  repository: string;
  /** The repository's numeric id (`repository_id`), checked when given (recommended). */
  repositoryId?: string | number;
  /** Exact `ref`s admitted (`refs/heads/main`, `refs/tags/v1.2.3`); default any. */
  refs?: readonly string[];
  /** `environment`s admitted; default any (a token without one too). */
  environments?: readonly string[];
  /** Exact `job_workflow_ref`s admitted (`owner/repo/.github/workflows/deploy.yml@refs/heads/main`); default any. */
  workflowRefs?: readonly string[];
  /**
   * Admit `pull_request` tokens (default false). `pull_request_target` and `workflow_run` are
   * always refused: they run with the base repository's identity on behalf of a fork's change.
   */
  allowPullRequests?: boolean;
  /** The service's name; default the repository. */
  name?: string;
  /** What it may do; default nothing. */
  scopes?: readonly string[];
}

/** Events that run with the base repository's token for a change someone else wrote. */
const FORK_CONTEXT_EVENTS = new Set(['pull_request_target', 'workflow_run']);

/**
 * A policy for GitHub Actions tokens: the repository by owner id, name (and id), then the ref,
 * the environment and the reusable workflow exactly, and no token of a run that a fork's pull
 * request can start with the base repository's identity. Claim names as GitHub documents them
 * ("About security hardening with OpenID Connect").
 */
export function githubActionsPolicy(options: GithubActionsPolicyOptions): WorkloadPolicy {
  if (options.repositoryOwnerId === undefined || String(options.repositoryOwnerId).trim() === '')
    throw new TypeError('githubActionsPolicy: repositoryOwnerId (the numeric id) is required: names can be re-registered');
  if (typeof options.repository !== 'string' || !/^[^/\s]+\/[^/\s]+$/.test(options.repository))
    throw new TypeError('githubActionsPolicy: repository must be "owner/name"');
  const ownerId = String(options.repositoryOwnerId);
  const repositoryId = options.repositoryId === undefined ? undefined : String(options.repositoryId);
  const repository = options.repository.toLowerCase();
  return (claims) => {
    const text = (name: string) => (typeof claims[name] === 'string' ? claims[name] : undefined);
    const shown = (name: string) => JSON.stringify(text(name) ?? null);
    if (text('repository_owner_id') !== ownerId)
      return { allow: false, reason: `repository_owner_id ${shown('repository_owner_id')} is not the configured owner ${ownerId}` };
    if (repositoryId !== undefined && text('repository_id') !== repositoryId)
      return { allow: false, reason: `repository_id ${shown('repository_id')} is not ${repositoryId}` };
    if (text('repository')?.toLowerCase() !== repository)
      return { allow: false, reason: `repository ${shown('repository')} is not ${options.repository}` };
    const event = text('event_name');
    if (event !== undefined && FORK_CONTEXT_EVENTS.has(event))
      return { allow: false, reason: `event ${event} runs a fork's change with this repository's identity: refused` };
    if (event === 'pull_request' && !options.allowPullRequests)
      return { allow: false, reason: 'pull_request runs are not admitted (allowPullRequests is off)' };
    if (options.refs && !options.refs.includes(text('ref') ?? ''))
      return { allow: false, reason: `ref ${shown('ref')} is not one of ${options.refs.join(', ')}` };
    if (options.environments && !options.environments.includes(text('environment') ?? ''))
      return { allow: false, reason: `environment ${shown('environment')} is not one of ${options.environments.join(', ')}` };
    if (options.workflowRefs && !options.workflowRefs.includes(text('job_workflow_ref') ?? ''))
      return { allow: false, reason: `job_workflow_ref ${shown('job_workflow_ref')} is not one of ${options.workflowRefs.join(', ')}` };
    return {
      allow: true,
      name: options.name ?? options.repository,
      scopes: options.scopes ?? [],
      clientId: `github:${ownerId}/${text('repository_id') ?? options.repository}`,
    };
  };
}
