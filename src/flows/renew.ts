import { NotLoggedInError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { CredentialRecord } from '../store/secrets.js';

export interface RenewInput {
  profileName: string;
  profile: Profile;
  /** The record found expiring: renewed unless another process already did. */
  record: CredentialRecord;
  cliName: string;
}

export interface RenewDeps {
  credentials: Credentials;
  clock: Clock;
  /** Built only when a request must be made. */
  http: () => Promise<Http>;
  /** Where a workload login finds its platform's token again (the job's variables); default this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Renew a credential, as kubelogin's get-token does: take the profile's renewal lock, read the
 * record again (another process may have renewed it meanwhile, or logged it out), then refresh
 * (OAuth), re-mint (service) or fetch a new platform token (workload) and store, all under the lock. A rotated refresh token works only
 * once, so two `token` racing make one request and both print its result.
 */
export async function renewCredential(input: RenewInput, deps: RenewDeps): Promise<CredentialRecord> {
  const { profileName, profile, cliName } = input;
  return deps.credentials.exclusive(profileName, async () => {
    const current = await deps.credentials.load(profileName);
    if (!current)
      throw new NotLoggedInError(`profile "${profileName}" was logged out while its credential was being renewed`, {
        hint: `Run: ${cliName} login -p ${profileName}`,
      });
    if (current.record.token !== input.record.token) return current.record;
    const flowDeps = { http: await deps.http(), clock: deps.clock, credentials: deps.credentials };
    const stored = { profileName, profile, record: current.record, storage: current.state.storage };
    if (current.record.workloadSource !== undefined) {
      // A CI job's login: a fresh platform token, exchanged again; nothing to refresh with was kept.
      const { renewWorkloadSession } = await import('./workload.js');
      return renewWorkloadSession({ ...stored, cliName }, { ...flowDeps, env: deps.env ?? process.env });
    }
    if (current.record.kind === 'service') {
      const { remintServiceToken } = await import('./client-credentials.js');
      return remintServiceToken(stored, flowDeps);
    }
    const { refreshCredential } = await import('./refresh.js');
    return refreshCredential({ ...stored, cliName }, flowDeps);
  });
}
