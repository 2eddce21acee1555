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
  const v4 =
    /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.exec(
      host,
    );
  if (v4) return v4[1] === '127';
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}
