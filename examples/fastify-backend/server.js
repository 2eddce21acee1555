// A Fastify backend that trades the id_token of `latchkey login` for a session of its own
// (POST /api/cli-auth). Fastify parses bodies itself: the route hands the token to `exchange`.
//   ISSUER=https://login.example.com/ CLIENT_ID=cli node examples/fastify-backend/server.js
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { createCliAuthHandler, createIdTokenVerifier } from 'latchkey/backend';

export async function createApp({ issuer, clientIds, log = console }) {
  const verifier = createIdTokenVerifier({ issuer, allowedClientIds: clientIds });
  await verifier.ready();
  const sessions = new Map();
  const cliAuth = createCliAuthHandler({
    verifier,
    findUser: (claims) => ({ sub: claims.sub, email: claims.email ?? null }),
    mintSession: (user) => {
      const token = randomUUID();
      sessions.set(token, user);
      return { token, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
    },
    onRefused: (reason, message) => log.warn(`cli-auth refused (${reason}): ${message}`),
    onError: (error) => log.error('cli-auth failed', error),
  });

  const app = Fastify({ bodyLimit: 16 * 1024 });
  // latchkey sends a form by default (exchangeEncoding json sends JSON, which Fastify parses).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body))),
  );
  app.post('/api/cli-auth', async (request, reply) => {
    const { status, headers, body } = await cliAuth.exchange(request.body?.token, { request: request.raw });
    return reply.code(status).headers(headers).send(body);
  });
  app.get('/api/whoami', async (request, reply) => {
    const user = sessions.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
    return user ?? reply.code(401).send({ error: 'unauthorized' });
  });
  return app;
}

if (process.argv[1] === import.meta.filename) {
  const app = await createApp({ issuer: process.env.ISSUER, clientIds: [process.env.CLIENT_ID] });
  await app.listen({ port: Number(process.env.PORT ?? 3000) });
}
