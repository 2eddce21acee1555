/** The current time, handed to flows so tests can fix it (kubelogin's `clock.Interface`). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that always answers `at`; for tests and for reproducible output. */
export function fixedClock(at: Date | string | number): Clock {
  const time = new Date(at).getTime();
  return { now: () => new Date(time) };
}
