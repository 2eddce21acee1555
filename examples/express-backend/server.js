// An Express backend that trades the id_token of `latchkey login` for a session of its own
// (POST /api/cli-auth), with the JSON and form body parsers mounted as most Express apps have.
//   ISSUER=https://login.example.com/ CLIENT_ID=cli node examples/express-backend/server.js
import { randomUUID } from 'node:crypto';
import express from 'express';
import { createCliAuthHandler, createIdTokenVerifier } from 'latchkey/backend';

export async function createApp({ issuer, clientIds, log = console }) {
  const verifier = createIdTokenVerifier({ issuer, allowedClientIds: clientIds });
  // Fails at start-up (the host named) rather than refusing every login later.
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

  const app = express();
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.post('/api/cli-auth', cliAuth);
  app.get('/api/whoami', (req, res) => {
    const user = sessions.get((req.get('authorization') ?? '').replace(/^Bearer /, ''));
    if (user) res.json(user);
    else res.status(401).json({ error: 'unauthorized' });
  });
  return app;
}

if (process.argv[1] === import.meta.filename) {
  const app = await createApp({ issuer: process.env.ISSUER, clientIds: [process.env.CLIENT_ID] });
  app.listen(Number(process.env.PORT ?? 3000), () => console.log(`listening on ${process.env.PORT ?? 3000}`));
}
