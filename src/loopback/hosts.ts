/** `URL.hostname` for IPv6 keeps the brackets; strip them for comparisons. */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
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
