import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/loopback/hosts.js';

// The loopback rule reads IPv4 itself (node:net stays off the start-up path): it must agree with
// node:net's isIP on what a dotted-decimal address is.
const reference = (host: string) => {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
};

describe('isLoopbackHost', () => {
  it('agrees with node:net on hand-picked hosts', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '127.000.0.1',
      '127.0.0.256',
      '127.0.0',
      '127.0.0.1.',
      '0127.0.0.1',
      '128.0.0.1',
      '[::1]',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'LOCALHOST',
      'localhost.',
      'evil.127.0.0.1',
      '127.0.0.1.nip.io',
      '',
      ' 127.0.0.1',
    ])
      expect(isLoopbackHost(host), host).toBe(reference(host));
  });

  it('agrees with node:net on generated dotted strings', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.stringMatching(/^[0-9]{1,4}$/), fc.constant('127'));
    const host = fc.array(octet, { minLength: 2, maxLength: 5 }).map((parts) => parts.join('.'));
    fc.assert(
      fc.property(host, (h) => isLoopbackHost(h) === reference(h)),
      { numRuns: 2000 },
    );
  });
});
