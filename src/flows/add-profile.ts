import type { Http } from '../http.js';
import type { Profile } from '../model.js';
import type { ClientRegistration, Credentials } from '../store/credentials.js';
import type { ProfileStore } from '../store/profiles.js';
import { forgetRegistration } from './register.js';

export interface AddProfileInput {
  name: string;
  profile: Profile;
  /** The client registered for this profile (RFC 7591), whose management secret is kept beside it. */
  registration?: ClientRegistration;
  /** Replace a profile of the same name (and delete the client it had registered). */
  force: boolean;
}

export interface AddProfileDeps {
  profiles: ProfileStore;
  credentials: () => Promise<Credentials>;
  http: (profile: Profile) => Promise<Http>;
}

/**
 * Save a new profile. A client registered for it has its secret stored first, so a profile is
 * never saved pointing at a client it cannot manage; a profile that then fails to save takes its
 * client with it. A replaced profile's own registered client is deleted at the IdP (RFC 7592),
 * as `profile remove` does.
 */
export async function addProfile(input: AddProfileInput, deps: AddProfileDeps): Promise<{ madeDefault: boolean }> {
  const { name, profile, registration, force } = input;
  const replaced = force ? deps.profiles.read().profiles[name] : undefined;
  if (replaced)
    await forgetRegistration(name, {
      credentials: await deps.credentials(),
      http: () => deps.http(replaced),
      issuer: replaced.issuer,
    }).catch(() => undefined);
  if (!registration) return deps.profiles.add(name, profile, { force });
  const credentials = await deps.credentials();
  await credentials.saveRegistration(name, profile, registration);
  try {
    return await deps.profiles.add(name, profile, { force });
  } catch (error) {
    await forgetRegistration(name, { credentials, http: () => deps.http(profile), issuer: profile.issuer }).catch(() => undefined);
    throw error;
  }
}
