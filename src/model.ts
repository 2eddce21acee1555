import type { LoginState, StorageKind } from './store/profiles.js';
import type { CredentialRecord } from './store/secrets.js';

/**
 * Domain rules with no I/O: what a stored login's facts are, and whether it is usable. One place,
 * so `token`, `status` and the library never disagree.
 */

/**
 * When a credential is due for renewal: a service token is re-minted at will, so it is used until
 * 30 s before its end; a user's is renewed a minute early (it may be in flight a while).
 */
export function renewalMarginSeconds(kind: CredentialRecord['kind']): number {
  return kind === 'service' ? 30 : 60;
}

/**
 * The one rule for "is this login usable", for `token`, `status` and the library: `live` while
 * it has more than its margin left, `renew` when it is due and can be renewed (refresh token,
 * client credentials), `expired` when it is due and cannot.
 */
export function liveness(state: Pick<LoginState, 'kind' | 'expiresAt' | 'renewable'>, now: Date, marginSeconds = renewalMarginSeconds(state.kind)): 'live' | 'renew' | 'expired' {
  const due = state.expiresAt !== undefined && Date.parse(state.expiresAt) - marginSeconds * 1000 <= now.getTime();
  if (!due) return 'live';
  return state.renewable ? 'renew' : 'expired';
}

/** The non-secret facts of a record that the config keeps (what `status` shows). */
export function loginStateOf(record: CredentialRecord, storage: StorageKind): LoginState {
  const state: LoginState = {
    kind: record.kind,
    storage,
    via: record.via,
    obtainedAt: record.obtainedAt,
    renewable: record.refreshToken !== undefined || record.kind === 'service',
  };
  if (record.subject !== undefined) state.subject = record.subject;
  if (record.email !== undefined) state.email = record.email;
  if (record.identityVerified === false) state.identityVerified = false;
  if (record.expiresAt !== undefined) state.expiresAt = record.expiresAt;
  return state;
}
