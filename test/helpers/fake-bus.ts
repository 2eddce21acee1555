import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, readMessages, Writer, type Body, type Message } from '../../src/store/secret-service.js';

/** Bodies of the Secret Service's answers, for a test's bus to answer with. */
export const bodies = {
  string: (value: string): Body => ({ signature: 's', bytes: new Writer().string(value).bytes() }),
  session: (path: string): Body => ({ signature: 'vo', bytes: new Writer().signature('s').string('').string(path).bytes() }),
  items: (unlocked: string[], locked: string[]): Body => {
    const w = new Writer();
    for (const list of [unlocked, locked]) {
      const items = new Writer();
      for (const path of list) items.string(path);
      const bytes = items.bytes();
      w.u32(bytes.length).raw(bytes);
    }
    return { signature: 'aoao', bytes: w.bytes() };
  },
  secret: (session: string, value: Buffer, parameters = Buffer.alloc(0)): Body => ({
    signature: '(oayays)',
    bytes: new Writer().string(session).u32(parameters.length).raw(parameters).u32(value.length).raw(value).string('text/plain').bytes(),
  }),
};

/** What the fake bus does with a call: answer it (a body, or an error name), or say nothing. */
export type Answer = { body?: Body } | { error: string } | 'silence';

/**
 * A D-Bus session bus on a unix socket that speaks just enough of the protocol for the Secret
 * Service calls: the SASL line, then an answer per call from `answer(member, message)`.
 */
export async function fakeSecretService(
  answer: (member: string | undefined, message: Message) => Answer,
  track: { servers: Server[]; sockets: Socket[] },
): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'latchkey-bus-')), 'bus');
  const server = createServer((socket) => {
    track.sockets.push(socket);
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let authenticated = false;
    let serial = 100;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!authenticated) {
        const end = buffer.indexOf('BEGIN\r\n');
        if (end < 0) return;
        buffer = buffer.subarray(end + 'BEGIN\r\n'.length);
        authenticated = true;
        socket.write('OK 0123456789abcdef0123456789abcdef\r\n');
      }
      const { messages, used } = readMessages(buffer);
      buffer = buffer.subarray(used);
      for (const message of messages) {
        const { member, serial: callSerial } = message;
        const said = member === 'Hello' ? { body: bodies.string(':1.1') } : answer(member, message);
        if (said === 'silence') continue;
        serial += 1;
        socket.write(
          'error' in said
            ? encodeMessage(serial, { type: 'error', replySerial: callSerial, errorName: said.error })
            : encodeMessage(serial, { type: 'return', replySerial: callSerial }, said.body),
        );
      }
    });
  });
  track.servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return `unix:path=${path}`;
}
