import { createRequire } from 'node:module';

/**
 * Whether the Secret Service (org.freedesktop.secrets) answers on the session bus, asked in
 * JavaScript with a deadline before the keychain binding is touched: the binding blocks the
 * thread that calls it when the bus never answers, and a blocked thread cannot be timed out.
 * What is asked is the least the D-Bus specification allows: the SASL EXTERNAL handshake
 * (pipelined with the calls, as sd-bus does: one round trip), `Hello`, then `Peer.Ping` to
 * `org.freedesktop.secrets` (which starts the service when the bus can activate it).
 */

/**
 * What the bus said:
 * - `answers`: the Secret Service is there and answered;
 * - `absent`: the bus answered that no Secret Service is there (or refused us);
 * - `silent`: the bus or the service did not answer before the deadline;
 * - `unknown`: the check cannot be made here (no unix socket address, an unexpected answer): the
 *   caller keeps the binding in a helper process it can kill.
 */
export type ProbeResult = { kind: 'answers' } | { kind: 'absent' | 'silent' | 'unknown'; why: string };

/** The unix socket of the first `unix:` address of a D-Bus address list (abstract ones too). */
export function sessionBusSocket(address: string | undefined): string | undefined {
  for (const entry of (address ?? '').split(';')) {
    const [transport, params = ''] = entry.split(/:(.*)/s) as [string, string?];
    if (transport !== 'unix') continue;
    const values = new Map(params.split(',').map((kv) => kv.split(/=(.*)/s) as [string, string]));
    const unescape = (v: string) => v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (values.get('path')) return unescape(values.get('path')!);
    if (values.get('abstract')) return `\0${unescape(values.get('abstract')!)}`;
  }
  return undefined;
}

/** A method call with no body, little-endian, as D-Bus marshals it. */
export function methodCall(serial: number, fields: { path: string; member: string; interface?: string; destination?: string }): Buffer {
  const parts: Buffer[] = [];
  let length = 16; // the fixed header with the length of the fields array
  const pad = (to: number) => {
    const n = (to - (length % to)) % to;
    if (n) {
      parts.push(Buffer.alloc(n));
      length += n;
    }
  };
  const push = (buf: Buffer) => {
    parts.push(buf);
    length += buf.length;
  };
  const field = (code: number, signature: 'o' | 's', value: string) => {
    pad(8);
    push(Buffer.from([code, 1, signature.charCodeAt(0), 0]));
    const text = Buffer.from(value, 'utf8');
    const size = Buffer.alloc(4);
    size.writeUInt32LE(text.length);
    push(size);
    push(Buffer.concat([text, Buffer.alloc(1)]));
  };
  field(1, 'o', fields.path);
  if (fields.interface) field(2, 's', fields.interface);
  field(3, 's', fields.member);
  if (fields.destination) field(6, 's', fields.destination);
  const fieldsLength = length - 16;
  pad(8);
  const head = Buffer.alloc(16);
  head.write('l', 0, 'latin1');
  head.writeUInt8(1, 1); // METHOD_CALL
  head.writeUInt8(0, 2);
  head.writeUInt8(1, 3); // protocol version
  head.writeUInt32LE(0, 4); // no body
  head.writeUInt32LE(serial, 8);
  head.writeUInt32LE(fieldsLength, 12);
  return Buffer.concat([head, ...parts]);
}

/** A message read from the bus: what the probe needs of it. */
interface Reply {
  type: number;
  replySerial?: number;
  errorName?: string;
}

/** Complete messages at the start of `data`, and how many bytes they took. */
export function readMessages(data: Buffer): { messages: Reply[]; used: number } {
  const messages: Reply[] = [];
  let offset = 0;
  while (data.length - offset >= 16) {
    const little = data[offset] === 0x6c; // 'l'
    if (!little && data[offset] !== 0x42) throw new Error('not a D-Bus message'); // 'B'
    const u32 = (at: number) => (little ? data.readUInt32LE(at) : data.readUInt32BE(at));
    const bodyLength = u32(offset + 4);
    const fieldsLength = u32(offset + 12);
    const headerEnd = offset + 16 + fieldsLength + ((8 - (fieldsLength % 8)) % 8);
    if (bodyLength > 1 << 27 || fieldsLength > 1 << 26) throw new Error('an oversized D-Bus message');
    if (data.length < headerEnd + bodyLength) break;
    const reply: Reply = { type: data[offset + 1]! };
    // The header fields: (code, variant) structs, each aligned to 8.
    let at = offset + 16;
    const end = offset + 16 + fieldsLength;
    while (at < end) {
      at = offset + Math.ceil((at - offset) / 8) * 8;
      if (at >= end) break;
      const code = data[at]!;
      const sigLength = data[at + 1]!;
      const signature = data.toString('latin1', at + 2, at + 2 + sigLength);
      at += 2 + sigLength + 1;
      if (signature === 'u') {
        at = offset + Math.ceil((at - offset) / 4) * 4;
        if (code === 5) reply.replySerial = u32(at);
        at += 4;
      } else if (signature === 's' || signature === 'o') {
        at = offset + Math.ceil((at - offset) / 4) * 4;
        const size = u32(at);
        if (code === 4) reply.errorName = data.toString('utf8', at + 4, at + 4 + size);
        at += 4 + size + 1;
      } else if (signature === 'g') {
        at += 1 + data[at]! + 1;
      } else {
        break; // a type these fields never have: stop reading this header
      }
    }
    messages.push(reply);
    offset = headerEnd + bodyLength;
  }
  return { messages, used: offset };
}

/** Ask the session bus whether the Secret Service answers, within `timeoutMs`. */
export async function probeSecretService(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ProbeResult> {
  const address = env.DBUS_SESSION_BUS_ADDRESS;
  if (!address) return { kind: 'absent', why: 'no session bus (DBUS_SESSION_BUS_ADDRESS is not set)' };
  const socketPath = sessionBusSocket(address);
  if (!socketPath) return { kind: 'unknown', why: 'the session bus has no unix socket address' };
  const uid = process.getuid?.();
  if (uid === undefined) return { kind: 'unknown', why: 'no user id to authenticate with' };
  // Loaded with require: in the CommonJS bundle an import() of a built-in starts the ES module loader (~2 ms).
  const { createConnection } = createRequire(import.meta.url)('node:net') as typeof import('node:net');
  return new Promise<ProbeResult>((resolve) => {
    const socket = createConnection({ path: socketPath });
    // Written now, sent on connect: the handshake, Hello and Ping in one write (the bus keeps what
    // follows BEGIN for after it), as sd-bus does: one round trip.
    socket.write(
      Buffer.concat([
        Buffer.from(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\nBEGIN\r\n`),
        methodCall(1, {
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'Hello',
          destination: 'org.freedesktop.DBus',
        }),
        methodCall(2, {
          path: '/org/freedesktop/secrets',
          interface: 'org.freedesktop.DBus.Peer',
          member: 'Ping',
          destination: 'org.freedesktop.secrets',
        }),
      ]),
    );
    let settled = false;
    const done = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ kind: 'silent', why: `no answer within ${timeoutMs / 1000} s from the session bus` }), timeoutMs);
    let authenticated = false;
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      // The answers asked for are a line and three short messages: a bus that sends more is not one.
      if (buffer.length > 64 * 1024) return done({ kind: 'unknown', why: 'the session bus sent more than its answers' });
      if (!authenticated) {
        const line = buffer.indexOf('\r\n');
        if (line < 0) return;
        const answer = buffer.toString('latin1', 0, line);
        buffer = buffer.subarray(line + 2);
        if (!answer.startsWith('OK ')) return done({ kind: 'absent', why: `the session bus refused us (${answer.slice(0, 40)})` });
        authenticated = true;
      }
      try {
        const { messages, used } = readMessages(buffer);
        buffer = buffer.subarray(used);
        const ping = messages.find((m) => m.replySerial === 2 && (m.type === 2 || m.type === 3));
        if (ping?.type === 2) done({ kind: 'answers' });
        else if (ping) done({ kind: 'absent', why: `no Secret Service on the session bus (${ping.errorName ?? 'error'})` });
      } catch (error) {
        done({ kind: 'unknown', why: (error as Error).message });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      done({ kind: 'absent', why: `cannot connect to the session bus (${error.code ?? error.message})` }),
    );
    socket.on('close', () => done({ kind: 'absent', why: 'the session bus closed the connection' }));
  });
}
