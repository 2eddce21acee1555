// The reference for the full-login benchmark: the same protocol steps as `latchkey login`, done
// with openid-client directly and nothing else (no profile, no keychain, no checks beyond the
// library's): discovery, PKCE, a loopback listener, the browser (BROWSER, the scripted user
// agent), the code grant, the backend exchange, a file write.
//   node bench/minimal-login.mjs <issuer> <client_id> <backend_url> <out_file>
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as client from 'openid-client';

const [issuer, clientId, backendUrl, outFile] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
  prompt: 'consent',
});
const [command, ...args] = process.env.BROWSER.match(/"[^"]*"|\S+/g).map((w) => w.replace(/^"|"$/g, ''));
spawn(command, [...args, url.href], { stdio: 'ignore', detached: true }).unref();
const { req, res } = await new Promise((resolve) => server.once('request', (req, res) => resolve({ req, res })));
const tokens = await client.authorizationCodeGrant(config, new URL(req.url, redirectUri), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
});
const exchanged = await fetch(`${backendUrl}/api/cli-auth`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ token: tokens.id_token }),
});
writeFileSync(outFile, JSON.stringify(await exchanged.json()), { mode: 0o600 });
res.end('ok');
server.close();
server.closeAllConnections();
