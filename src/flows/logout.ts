import type { Clock } from '../io/clock.js';
import type { Output } from '../io/output.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import { use, type Lazy } from '../model.js';

/**
 * Log a profile out: revoke its IdP tokens where the IdP offers revocation (unless `revoke` is
 * false; a failure only warns), then delete the stored credential. True when there was one.
 * Under the profile's renewal lock: a refresh in flight finishes first, and what it stored is
 * what gets revoked and deleted.
 */
export async function logout(
  input: { profileName: string; profile: Profile; revoke?: boolean },
  deps: { credentials: Lazy<Credentials>; http: Lazy<Http>; clock: Clock; out: Output },
): Promise<boolean> {
  const credentials = await use(deps.credentials);
  return credentials.exclusive(input.profileName, async () => {
    if (input.revoke !== false) {
      // A credential that cannot be read (the keychain gone) is still removed below.
      const stored = await credentials.load(input.profileName).catch(() => undefined);
      if (stored) {
        const { revokeAtIdp } = await import('./revoke.js');
        await revokeAtIdp(
          { profileName: input.profileName, profile: input.profile, record: stored.record },
          { http: await use(deps.http), clock: deps.clock, out: deps.out },
        );
      }
    }
    return credentials.remove(input.profileName);
  });
}
