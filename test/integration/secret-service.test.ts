import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultKeychainBackend } from '../../src/store/keychain-helper.js';
import { methodCall, probeSecretService, readMessages, sessionBusSocket } from '../../src/store/secret-service.js';
import { secretServiceReachable } from '../helpers/secret-service.js';

// The probe that lets the keychain binding run in process: it must tell a Secret Service that
// answers from one that is absent or silent, within its deadline, whatever the bus does.
const realService = await secretServiceReachable();
const servers: Server[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
});

/** A unix socket that runs `onConnection` for each client. */
async function fakeBus(onConnection: (socket: Socket) => void): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'latchkey-probe-')), 'bus');
  const server = createServer((socket) => {
    sockets.push(socket);
    // The probe hangs up on a bus it gives up on: the reset that follows is expected here.
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return `unix:path=${path}`;
}

describe('the D-Bus address', () => {
  it('is read as the specification writes it', () => {
    expect(sessionBusSocket('unix:path=/run/user/1000/bus')).toBe('/run/user/1000/bus');
    expect(sessionBusSocket('unix:abstract=/tmp/dbus-Xy,guid=0123')).toBe('\0/tmp/dbus-Xy');
    expect(sessionBusSocket('tcp:host=localhost,port=1;unix:path=/tmp/a%20b')).toBe('/tmp/a b');
    expect(sessionBusSocket('tcp:host=localhost,port=1')).toBeUndefined();
    expect(sessionBusSocket(undefined)).toBeUndefined();
  });

  it('marshals a method call that reads back as one message', () => {
    const call = methodCall(7, {
      path: '/org/freedesktop/secrets',
      interface: 'org.freedesktop.DBus.Peer',
      member: 'Ping',
      destination: 'x.y',
    });
    expect(call.length % 8).toBe(0);
    expect(readMessages(Buffer.concat([call, call.subarray(0, 20)]))).toMatchObject({ messages: [{ type: 1 }], used: call.length });
  });
});

describe('the probe', () => {
  it('a bus that is not there: absent, at once', async () => {
    const started = Date.now();
    const result = await probeSecretService({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/latchkey-bus' }, 5000);
    expect(result).toMatchObject({ kind: 'absent', why: expect.stringContaining('ENOENT') });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await probeSecretService({}, 5000)).toMatchObject({ kind: 'absent' });
  });

  it('a bus that never says a word, or says garbage: silent or unknown within the deadline, never a hang', async () => {
    const silent = await fakeBus(() => undefined);
    let started = Date.now();
    expect(await probeSecretService({ DBUS_SESSION_BUS_ADDRESS: silent }, 300)).toMatchObject({ kind: 'silent' });
    expect(Date.now() - started).toBeLessThan(2000);

    const garbage = await fakeBus((socket) => socket.once('data', () => socket.write(`OK 1234\r\n${'\xff'.repeat(64)}`)));
    started = Date.now();
    expect(['silent', 'unknown']).toContain((await probeSecretService({ DBUS_SESSION_BUS_ADDRESS: garbage }, 300)).kind);
    expect(Date.now() - started).toBeLessThan(2000);

    const floods = await fakeBus((socket) => socket.once('data', () => socket.write(`OK 1234\r\n${'\0'.repeat(200_000)}`)));
    started = Date.now();
    expect(await probeSecretService({ DBUS_SESSION_BUS_ADDRESS: floods }, 5000)).toMatchObject({ kind: 'unknown' });
    expect(Date.now() - started).toBeLessThan(2000);

    const refuses = await fakeBus((socket) => socket.once('data', () => socket.end('REJECTED EXTERNAL\r\n')));
    expect(await probeSecretService({ DBUS_SESSION_BUS_ADDRESS: refuses }, 1000)).toMatchObject({ kind: 'absent' });
  });

  it.skipIf(!existsSync('/usr/bin/dbus-daemon'))('a real bus without a Secret Service: absent, naming the D-Bus error', async () => {
    // A session bus that cannot start services (the default one starts gnome-keyring for the Ping).
    const config = join(mkdtempSync(join(tmpdir(), 'latchkey-bus-')), 'session.conf');
    writeFileSync(
      config,
      '<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen><policy context="default">' +
        '<allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/></policy></busconfig>',
    );
    const daemon: ChildProcess = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const address = await new Promise<string>((resolve) => daemon.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const result = await probeSecretService({ DBUS_SESSION_BUS_ADDRESS: address }, 5000);
      expect(result).toMatchObject({ kind: 'absent', why: expect.stringContaining('org.freedesktop.DBus.Error.ServiceUnknown') });
    } finally {
      daemon.kill();
    }
  });

  it.skipIf(!realService)('the real Secret Service (scripts/with-secret-service.sh): answers', async () => {
    expect(await probeSecretService(process.env, 5000)).toEqual({ kind: 'answers' });
  });

  it('a bus the probe cannot reach (a tcp: address): the helper process guards the call, which fails within the timeout', async () => {
    const listener = createServer((socket) => sockets.push(socket));
    servers.push(listener);
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as { port: number };
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: `tcp:host=127.0.0.1,port=${port}` };
    expect(await probeSecretService(env, 1000)).toMatchObject({ kind: 'unknown' });
    const started = Date.now();
    await expect(
      defaultKeychainBackend({ timeoutMs: 1000, env }).call({ op: 'get', service: 'latchkey-test', account: 'x' }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
