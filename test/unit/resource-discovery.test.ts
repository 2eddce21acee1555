import { describe, expect, it } from 'vitest';
import { authorizationServerMetadataUrl, protectedResourceMetadataUrl } from '../../src/discovery.js';
import { registeredRedirectUri } from '../../src/flows/register.js';
import { checkMetadata, resourceMetadataOf } from '../../src/flows/resource-discovery.js';

describe('resourceMetadataOf (the WWW-Authenticate challenge, RFC 9728 §5.1)', () => {
  it.each([
    [
      'Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource"',
      'https://api.example/.well-known/oauth-protected-resource',
    ],
    ['Bearer realm="api", error="invalid_token", resource_metadata="https://a.example/m"', 'https://a.example/m'],
    ['Basic realm="x", Bearer resource_metadata="https://a.example/m"', 'https://a.example/m'],
    ['DPoP algs="ES256", bearer Resource_Metadata=https://a.example/m', 'https://a.example/m'],
    ['Bearer resource_metadata="https://a.example/q\\"x"', 'https://a.example/q"x'],
  ])('%s', (header, expected) => {
    expect(resourceMetadataOf(header)).toBe(expected);
  });

  it.each([
    null,
    '',
    'Bearer realm="api"',
    'Basic resource_metadata="https://a.example/m"',
    'DPoP resource_metadata="https://a.example/m"',
    '"""',
    ',,,',
  ])('finds none in %j', (header) => {
    expect(resourceMetadataOf(header)).toBeUndefined();
  });
});

describe('well-known URIs of identifiers with a path (RFC 8414 §3.1, RFC 9728 §3.1)', () => {
  it('puts the suffix between the host and the path', () => {
    expect(protectedResourceMetadataUrl('https://api.example')).toBe('https://api.example/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('https://api.example/')).toBe('https://api.example/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('https://api.example/v1')).toBe('https://api.example/.well-known/oauth-protected-resource/v1');
    expect(authorizationServerMetadataUrl('https://as.example/tenant/')).toBe(
      'https://as.example/.well-known/oauth-authorization-server/tenant',
    );
  });
});

describe('checkMetadata', () => {
  const at = 'https://api.example/.well-known/oauth-protected-resource';
  const ok = { resource: 'https://api.example', authorization_servers: ['https://idp.example'] };
  it('takes a document for this resource (a trailing "/" of the origin aside)', () => {
    expect(checkMetadata(ok, 'https://api.example', at, 'well-known')).toMatchObject({ resource: 'https://api.example', scopes: [] });
    expect(checkMetadata({ ...ok, resource: 'https://api.example/' }, 'https://api.example', at, 'well-known').resource).toBe(
      'https://api.example/',
    );
  });
  it.each([
    [{ ...ok, resource: 'https://api.example/v2' }, /is for "https:\/\/api.example\/v2", not for https:\/\/api.example/],
    [{ ...ok, resource: undefined }, /has no "resource"/],
    [[ok], /is not a JSON object/],
    [{ ...ok, authorization_servers: [] }, /names no authorization server/],
    [{ ...ok, authorization_servers: ['javascript:alert(1)'] }, /is refused: its scheme javascript: is not https/],
    [{ ...ok, authorization_servers: ['https://user:pw@idp.example'] }, /carries a user name or password/],
    [{ ...ok, scopes_supported: ['read', 'a b'] }, /not a list of scope tokens/],
    [{ ...ok, scopes_supported: 'read' }, /not a list of scope tokens/],
  ])('refuses %j', (document, message) => {
    expect(() => checkMetadata(document, 'https://api.example', at, 'well-known')).toThrow(message);
  });
  it('reads only own properties', () => {
    const inherited = Object.create({ resource: 'https://api.example', authorization_servers: ['https://idp.example'] }) as object;
    expect(() => checkMetadata(inherited, 'https://api.example', at, 'well-known')).toThrow(/has no "resource"/);
  });
});

describe('registeredRedirectUri', () => {
  it('registers a loopback redirect without the port when any port will do (RFC 8252 §7.3)', () => {
    expect(registeredRedirectUri('http://127.0.0.1:0/callback')).toBe('http://127.0.0.1/callback');
    expect(registeredRedirectUri('http://[::1]:0/cb')).toBe('http://[::1]/cb');
    expect(registeredRedirectUri('http://127.0.0.1:8085/callback')).toBe('http://127.0.0.1:8085/callback');
  });
});
