import { UsageError } from '../errors.js';
import { getToken, type GetTokenDeps, type GetTokenInput, type TokenResult } from './get-token.js';

/** What kubectl tells an exec plugin (KUBERNETES_EXEC_INFO), as far as we read it. */
export interface ExecInfo {
  apiVersion: string;
  interactive: boolean;
}

/** kubectl's ExecCredential, as an exec credential plugin prints it. */
export interface ExecCredential {
  kind: 'ExecCredential';
  apiVersion: string;
  spec: { interactive: boolean };
  status: { token: string; expirationTimestamp?: string };
}

export const EXEC_CREDENTIAL_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** The ExecCredential version and interactivity kubectl asks for; v1 when it says nothing. */
export function execInfo(env: NodeJS.ProcessEnv): ExecInfo {
  let parsed: { apiVersion?: unknown; spec?: { interactive?: unknown } } = {};
  try {
    parsed = JSON.parse(env.KUBERNETES_EXEC_INFO ?? '{}') as typeof parsed;
  } catch {
    throw new UsageError('KUBERNETES_EXEC_INFO is not JSON (kubectl sets it for exec plugins)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError('KUBERNETES_EXEC_INFO is not a JSON object (kubectl sets it for exec plugins)');
  const apiVersion = typeof parsed.apiVersion === 'string' ? parsed.apiVersion : EXEC_CREDENTIAL_VERSIONS[0]!;
  if (!EXEC_CREDENTIAL_VERSIONS.includes(apiVersion))
    throw new UsageError(`kubectl asked for ExecCredential ${apiVersion}; this version speaks ${EXEC_CREDENTIAL_VERSIONS.join(' and ')}`);
  return { apiVersion, interactive: parsed.spec?.interactive === true };
}

/** The ExecCredential for a credential in force (kubectl wants whole seconds in its timestamp). */
export function execCredentialOf(info: ExecInfo, result: Pick<TokenResult, 'token' | 'expiresAt'>): ExecCredential {
  const expirationTimestamp = result.expiresAt ? new Date(result.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
  return {
    kind: 'ExecCredential',
    apiVersion: info.apiVersion,
    spec: { interactive: info.interactive },
    status: { token: result.token, ...(expirationTimestamp ? { expirationTimestamp } : {}) },
  };
}

/**
 * A profile's credential as kubectl's exec plugins hand it over, renewed first when due: what
 * `token --output exec-credential` prints, for a program of its own.
 */
export async function getExecCredential(input: GetTokenInput, deps: GetTokenDeps): Promise<ExecCredential> {
  const info = execInfo(deps.env ?? process.env);
  return execCredentialOf(info, await getToken(input, deps));
}
