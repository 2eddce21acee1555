/** `URL.hostname` for IPv6 keeps the brackets; strip them for comparisons. */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * Whether a host name is this machine under any spelling a connection would reach: the loopback
 * hosts, and also `0.0.0.0/8`, `::`, IPv4-mapped loopback (`::ffff:127.0.0.1`, which URL writes
 * `::ffff:7f00:1`), `localhost.` and `*.localhost`. For the rule that a remote document may not
 * send the CLI here; plain http stays allowed for isLoopbackHost's narrow list only.
 */
export function isThisMachine(hostname: string): boolean {
  if (isLoopbackHost(hostname)) return true;
  const host = unbracket(hostname.toLowerCase()).replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const octets = host.split('.');
  if (octets.length === 4 && octets.every((o) => /^\d{1,3}$/.test(o)) && (octets[0] === '0' || octets[0] === '127')) return true;
  if (host === '::' || host === '0:0:0:0:0:0:0:0') return true;
  const mapped = /^(?:0:0:0:0:0|):?:ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const first = Number.parseInt(mapped[1]!, 16) >> 8;
    return first === 127 || first === 0;
  }
  return false;
}

/** True for `localhost`, `127.0.0.0/8` and `::1`: the only hosts allowed over plain http. */
export function isLoopbackHost(hostname: string): boolean {
  const host = unbracket(hostname.toLowerCase());
  if (host === 'localhost') return true;
  // Dotted-decimal IPv4 as node:net's isIP reads it (no leading zeros), without loading node:net
  // on the path of every command.
  const octets = host.split('.');
  const v4 = octets.length === 4 && octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255);
  if (v4) return octets[0] === '127';
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}
