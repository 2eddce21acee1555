import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startCallbackListener, type CallbackListener } from '../../src/loopback/listener.js';

const STATE = 'the-state-0123456789';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  port: number,
  path: string,
  { host = `127.0.0.1:${port}`, family = 4, agent }: { host?: string; family?: 4 | 6; agent?: Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: family === 4 ? '127.0.0.1' : '::1', port, path, headers: { host }, agent: agent ?? false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function closed(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

async function withListener(redirectUri: string, fn: (listener: CallbackListener) => Promise<void>): Promise<void> {
  const listener = await startCallbackListener({ redirectUri, expectedState: STATE });
  try {
    await fn(listener);
  } finally {
    await listener.close();
  }
}

describe('the loopback callback listener', () => {
  it('binds 127.0.0.1 only (not every interface) and reports the port it got', async () => {
    await withListener('http://127.0.0.1:0/callback', async (listener) => {
      expect(listener.port).toBeGreaterThan(0);
      expect(listener.redirectUri).toBe(`http://127.0.0.1:${listener.port}/callback`);
      expect(await closed(listener.port, '127.0.0.1')).toBe(false);
      expect(await closed(listener.port, '::1')).toBe(true);
    });
  });

  it('for localhost binds both 127.0.0.1 and ::1 on the same port', async () => {
    await withListener('http://localhost:0/callback', async (listener) => {
      expect(listener.redirectUri).toBe(`http://localhost:${listener.port}/callback`);
      expect(await closed(listener.port, '127.0.0.1')).toBe(false);
      expect(await closed(listener.port, '::1')).toBe(false);
      expect((await get(listener.port, `/callback?state=wrong`, { family: 6, host: `localhost:${listener.port}` })).status).toBe(400);
    });
  });

  it('takes exactly one callback with the right state, holds it, then answers and closes the port', async () => {
    await withListener('http://127.0.0.1:0/callback', async (listener) => {
      const { port } = listener;
      const keepAlive = new Agent({ keepAlive: true });
      expect((await get(port, '/favicon.ico', { agent: keepAlive })).status).toBe(404);
      expect((await get(port, `/callback?code=c&state=${STATE}&state=${STATE}`)).status).toBe(400);
      const wrong = await get(port, `/callback?code=c&state=nope<script>alert(1)</script>`);
      expect(wrong.status).toBe(400);
      expect(wrong.body).not.toContain('script');
      expect(wrong.headers['cache-control']).toBe('no-store');

      const browser = get(port, `/callback?code=the-code&state=${STATE}`);
      const callback = await listener.received;
      expect(callback.url.href).toBe(`http://127.0.0.1:${port}/callback?code=the-code&state=${STATE}`);
      // Held, and the port no longer takes connections; the idle keep-alive socket was dropped.
      expect(await closed(port)).toBe(true);
      await callback.finish({ ok: true });
      const page = await browser;
      expect(page.status).toBe(200);
      expect(page.body).toContain('Signed in');
      expect(page.body).not.toContain('the-code');
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['content-security-policy']).toContain("default-src 'none'");
      keepAlive.destroy();
    });
  });

  it('a second hit with the right state while the first is held never counts', async () => {
    await withListener('http://127.0.0.1:0/callback', async (listener) => {
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
      // An open keep-alive connection from before the callback...
      expect((await get(listener.port, '/', { agent: keepAlive })).status).toBe(404);
      const first = get(listener.port, `/callback?code=one&state=${STATE}`);
      const callback = await listener.received;
      // ...cannot deliver a second one: it was closed when the first was taken.
      await expect(get(listener.port, `/callback?code=two&state=${STATE}`, { agent: keepAlive })).rejects.toThrow();
      await callback.finish({ ok: false });
      expect((await first).status).toBe(400);
      keepAlive.destroy();
    });
  });

  it('refuses a foreign Host (DNS rebinding), non-GET methods and oversized targets, and keeps waiting', async () => {
    await withListener('http://127.0.0.1:0/callback', async (listener) => {
      const { port } = listener;
      expect((await get(port, `/callback?state=${STATE}`, { host: `attacker.example:${port}` })).status).toBe(404);
      expect((await get(port, `/callback?state=${STATE}`, { host: `127.0.0.1:${port + 1}` })).status).toBe(404);
      expect((await get(port, `/callback?state=x&pad=${'a'.repeat(17_000)}`)).status).toBe(414);
      expect((await get(port, `/callback?state=x&pad=${'a'.repeat(40_000)}`)).status).toBe(431);
      const posted = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: `/callback?state=${STATE}`, method: 'POST', agent: false },
          (res) => (res.resume(), resolve(res.statusCode ?? 0)),
        );
        req.on('error', reject);
        req.end();
      });
      expect(posted).toBe(405);
      // Still waiting, and still listening.
      expect(await closed(port)).toBe(false);
    });
  });

  it('a taken fixed port falls back to redirectPorts, and all taken is an error naming them', async () => {
    const holder = await startCallbackListener({ redirectUri: 'http://127.0.0.1:0/callback', expectedState: 'x' });
    const second = await startCallbackListener({ redirectUri: 'http://127.0.0.1:0/callback', expectedState: 'y' });
    try {
      await expect(
        startCallbackListener({ redirectUri: `http://127.0.0.1:${holder.port}/callback`, expectedState: STATE }),
      ).rejects.toThrow(`port ${holder.port} on 127.0.0.1 is already in use`);
      await expect(
        startCallbackListener({
          redirectUri: `http://127.0.0.1:${holder.port}/callback`,
          redirectPorts: [second.port],
          expectedState: STATE,
        }),
      ).rejects.toThrow(`ports ${holder.port} and ${second.port} on 127.0.0.1 are already in use`);
    } finally {
      await holder.close();
      await second.close();
    }
  });

  it('refuses a redirect URI that is not http on loopback', async () => {
    await expect(startCallbackListener({ redirectUri: 'http://0.0.0.0:0/callback', expectedState: STATE })).rejects.toThrow(/loopback/);
    await expect(startCallbackListener({ redirectUri: 'https://127.0.0.1:0/callback', expectedState: STATE })).rejects.toThrow(/http/);
  });
});
