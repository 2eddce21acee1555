import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevBackend, type DevBackend } from '../../dev/backend.js';
import { startDevIdp, type DevIdp } from '../../dev/idp.js';

// The high-severity case of issue 30: on an authorization server with open registration (as
// zero-config needs), anyone registers a client and gets a client-credentials token for the
// backend. The backend must refuse it, and take only the service clients it names.
let idp: DevIdp;
let backend: DevBackend;
const BILLING = {
  client_id: 'billing-svc',
  client_secret: 'billing-secret-0123456789-abcdefghijklmnop',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

beforeAll(async () => {
  idp = await startDevIdp({ registration: true, clients: [BILLING] });
  backend = await startDevBackend({
    issuer: idp.issuer,
    allowedClientIds: [idp.clientId],
    serviceClients: [{ clientId: 'billing-svc', name: 'Billing', scopes: ['account:usage:read'] }],
  });
  idp.resourceServers.add(backend.url);
});
afterAll(async () => {
  await Promise.all([idp.close(), backend.close()]);
});

async function clientCredentials(clientId: string, secret: string, scope = 'account:usage:read'): Promise<string> {
  const response = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: backend.url }).toString(),
  });
  const body = (await response.json()) as { access_token: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}
const usage = async (token: string) => {
  const response = await fetch(`${backend.url}/api/usage`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('service subjects with the dev IdP', () => {
  it('a client anyone registered gets a client-credentials token: refused (service_client_not_allowed), not a user', async () => {
    const registered = await fetch(`${idp.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    const client = (await registered.json()) as { client_id: string; client_secret: string };
    expect(registered.status).toBe(201);
    const token = await clientCredentials(client.client_id, client.client_secret);
    expect(await usage(token)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(backend.refusals.at(-1)).toMatch(/^service_client_not_allowed: a client-credentials token \(sub is the client id\)/);
  });

  it('a configured service client is a service subject, with the scope its route asks for', async () => {
    expect(await usage(await clientCredentials(BILLING.client_id, BILLING.client_secret))).toEqual({
      status: 200,
      body: { subject: { kind: 'service', name: 'Billing' }, usage: 42 },
    });
  });

  it('without the scope, the route answers 403 insufficient_scope', async () => {
    const token = await clientCredentials(BILLING.client_id, BILLING.client_secret, 'account:usage:write');
    expect(await usage(token)).toMatchObject({ status: 403, body: { error: 'insufficient_scope', scope: 'account:usage:read' } });
  });
});
