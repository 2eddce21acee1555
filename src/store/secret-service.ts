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

/** Little-endian D-Bus marshalling of the few types written here; alignment from the start of the buffer. */
export class Writer {
  readonly #parts: Buffer[] = [];
  #length = 0;
  get length(): number {
    return this.#length;
  }
  align(to: number): this {
    const n = (to - (this.#length % to)) % to;
    if (n) this.#push(Buffer.alloc(n));
    return this;
  }
  byte(value: number): this {
    return this.#push(Buffer.from([value]));
  }
  u32(value: number): this {
    this.align(4);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    return this.#push(b);
  }
  string(value: string): this {
    const text = Buffer.from(value, 'utf8');
    this.u32(text.length);
    return this.#push(Buffer.concat([text, Buffer.alloc(1)]));
  }
  signature(value: string): this {
    return this.#push(Buffer.concat([Buffer.from([value.length]), Buffer.from(value, 'latin1'), Buffer.alloc(1)]));
  }
  raw(buf: Buffer): this {
    return this.#push(buf);
  }
  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
  #push(buf: Buffer): this {
    this.#parts.push(buf);
    this.#length += buf.length;
    return this;
  }
}

/** The body of a method call: its signature and its bytes (marshalled from an 8-aligned start). */
export interface Body {
  signature: string;
  bytes: Buffer;
}

/** A message's header: a method call by default; a return or an error answers `replySerial`. */
export interface MessageFields {
  path?: string;
  member?: string;
  interface?: string;
  destination?: string;
  type?: 'call' | 'return' | 'error';
  replySerial?: number;
  errorName?: string;
}

const TYPES = { call: 1, return: 2, error: 3 } as const;

/** A message, little-endian, as D-Bus marshals it. */
export function encodeMessage(serial: number, fields: MessageFields, body?: Body): Buffer {
  const header = new Writer();
  header
    .byte(0x6c) // 'l': little-endian
    .byte(TYPES[fields.type ?? 'call'])
    .byte(0)
    .byte(1); // protocol version 1
  header.u32(body?.bytes.length ?? 0);
  header.u32(serial);
  const fieldsWriter = new Writer();
  const field = (code: number, signature: 'o' | 's' | 'g' | 'u', value: string | number) => {
    fieldsWriter.align(8).byte(code).signature(signature);
    if (signature === 'g') fieldsWriter.signature(String(value));
    else if (signature === 'u') fieldsWriter.u32(Number(value));
    else fieldsWriter.string(String(value));
  };
  if (fields.path) field(1, 'o', fields.path);
  if (fields.interface) field(2, 's', fields.interface);
  if (fields.member) field(3, 's', fields.member);
  if (fields.errorName) field(4, 's', fields.errorName);
  if (fields.replySerial !== undefined) field(5, 'u', fields.replySerial);
  if (fields.destination) field(6, 's', fields.destination);
  if (body) field(8, 'g', body.signature);
  // The fields array's alignment (8) counts from the message start: its content starts at 16.
  const fieldBytes = fieldsWriter.bytes();
  header.u32(fieldBytes.length);
  const padding = Buffer.alloc((8 - (fieldBytes.length % 8)) % 8);
  return Buffer.concat([header.bytes(), fieldBytes, padding, body?.bytes ?? Buffer.alloc(0)]);
}

/** A method call. */
export function methodCall(
  serial: number,
  fields: { path: string; member: string; interface?: string; destination?: string },
  body?: Body,
): Buffer {
  return encodeMessage(serial, fields, body);
}

/** A message read from the bus: what the calls here need of it. */
export interface Message {
  type: number;
  serial: number;
  /** The member a call names (a bus in a test reads calls too). */
  member?: string;
  replySerial?: number;
  errorName?: string;
  signature?: string;
  body: Buffer;
  little: boolean;
}

/** Complete messages at the start of `data`, and how many bytes they took. */
export function readMessages(data: Buffer): { messages: Message[]; used: number } {
  const messages: Message[] = [];
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
    const message: Message = {
      type: data[offset + 1]!,
      serial: u32(offset + 8),
      body: data.subarray(headerEnd, headerEnd + bodyLength),
      little,
    };
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
        if (code === 5) message.replySerial = u32(at);
        at += 4;
      } else if (signature === 's' || signature === 'o') {
        at = offset + Math.ceil((at - offset) / 4) * 4;
        const size = u32(at);
        if (code === 4) message.errorName = data.toString('utf8', at + 4, at + 4 + size);
        if (code === 3) message.member = data.toString('utf8', at + 4, at + 4 + size);
        at += 4 + size + 1;
      } else if (signature === 'g') {
        if (code === 8) message.signature = data.toString('latin1', at + 1, at + 1 + data[at]!);
        at += 1 + data[at]! + 1;
      } else {
        break; // a type these fields never have: stop reading this header
      }
    }
    messages.push(message);
    offset = headerEnd + bodyLength;
  }
  return { messages, used: offset };
}

const SECRETS = { destination: 'org.freedesktop.secrets', path: '/org/freedesktop/secrets' };
const HELLO = () =>
  methodCall(1, { path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello', destination: 'org.freedesktop.DBus' });

/**
 * One conversation with the session bus, within `timeoutMs`: the SASL handshake pipelined with
 * `BEGIN`, `Hello` and `first`; then `onMessage` for each message, until it returns a result.
 */
function converse<T extends { kind: string }>(
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  first: () => Buffer[],
  onMessage: (message: Message, send: (call: Buffer) => void) => T | undefined,
): Promise<T | { kind: 'absent' | 'silent' | 'unknown'; why: string }> {
  type Ended = T | { kind: 'absent' | 'silent' | 'unknown'; why: string };
  const address = env.DBUS_SESSION_BUS_ADDRESS;
  if (!address) return Promise.resolve({ kind: 'absent', why: 'no session bus (DBUS_SESSION_BUS_ADDRESS is not set)' });
  const socketPath = sessionBusSocket(address);
  if (!socketPath) return Promise.resolve({ kind: 'unknown', why: 'the session bus has no unix socket address' });
  const uid = process.getuid?.();
  if (uid === undefined) return Promise.resolve({ kind: 'unknown', why: 'no user id to authenticate with' });
  // Loaded with require: in the CommonJS bundle an import() of a built-in starts the ES module loader (~2 ms).
  const { createConnection } = createRequire(import.meta.url)('node:net') as typeof import('node:net');
  return new Promise<Ended>((resolve) => {
    const socket = createConnection({ path: socketPath });
    // Written now, sent on connect: the handshake and the first calls in one write (the bus keeps
    // what follows BEGIN for after it). They are made while the connection is being set up.
    socket.write(
      Buffer.concat([Buffer.from(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\nBEGIN\r\n`), HELLO(), ...first()]),
    );
    let settled = false;
    const done = (result: Ended) => {
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
      // The answers asked for are a line and a few short messages: a bus that sends more is not one.
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
        for (const message of messages) {
          const result = onMessage(message, (call) => socket.write(call));
          if (result) return done(result);
        }
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

/** Whether the Secret Service answers on the session bus, within `timeoutMs`. */
export function probeSecretService(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ProbeResult> {
  const ping = () => [methodCall(2, { ...SECRETS, interface: 'org.freedesktop.DBus.Peer', member: 'Ping' })];
  return converse<ProbeResult>(env, timeoutMs, ping, (message) => {
    if (message.replySerial !== 2 || (message.type !== 2 && message.type !== 3)) return undefined;
    return message.type === 2
      ? { kind: 'answers' }
      : { kind: 'absent', why: `no Secret Service on the session bus (${message.errorName ?? 'error'})` };
  });
}
