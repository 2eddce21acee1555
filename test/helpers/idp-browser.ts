import { createHash, randomBytes } from 'node:crypto';
import type { DevIdp } from '../../dev/idp.js';

/**
 * A browser at the dev IdP, in the test's own process: it keeps its cookies (its session at the
 * IdP), signs in on the devInteractions pages, and ends that session at the end-session
 * endpoint as a person would (the confirmation form). The code flow is the native client's
 * (PKCE, a loopback redirect nobody needs to listen on: the redirect is read, not followed).
 */
export class IdpBrowser {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly idp: DevIdp) {}

  private async go(url: URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, at).trim(), pair!.slice(at + 1).trim());
    }
    return response;
  }

  private static formOf(html: string): { action: string; fields: Record<string, string> } | undefined {
    const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
    if (!form) return undefined;
    const fields: Record<string, string> = {};
    for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi))
      fields[input[1]!] = input[2]!;
    return { action: form[1]!, fields };
  }

  /** A code-flow login as `user`: the IdP's token response (id_token with `sid`, refresh token). */
  async login(user = 'ada'): Promise<{ id_token: string; refresh_token?: string; access_token: string }> {
    const verifier = randomBytes(32).toString('base64url');
    const redirectUri = 'http://127.0.0.1:9/callback';
    const authorize = new URL(`${this.idp.issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: this.idp.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid email offline_access',
      prompt: 'consent',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    let url = authorize;
    let response = await this.go(url);
    for (let hops = 0; hops < 20; hops += 1) {
      if (response.status >= 300 && response.status < 400) {
        url = new URL(response.headers.get('location')!, url);
        if (url.href.startsWith(redirectUri)) {
          const code = url.searchParams.get('code');
          if (!code) throw new Error(`no code in the callback: ${url.search}`);
          return this.tokens({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
        }
        response = await this.go(url);
        continue;
      }
      const form = IdpBrowser.formOf(await response.text());
      if (!form) throw new Error(`stuck at ${url.pathname} (${response.status})`);
      const fields = form.fields.prompt === 'login' ? { ...form.fields, login: user, password: 'any' } : form.fields;
      url = new URL(form.action, url);
      response = await this.go(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    }
    throw new Error('too many hops');
  }

  /** The refresh grant: a new id_token of the same IdP session (the same `sid`). */
  refresh(refreshToken: string): Promise<{ id_token: string; refresh_token?: string; access_token: string }> {
    return this.tokens({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  private async tokens(params: Record<string, string>): Promise<{ id_token: string; refresh_token?: string; access_token: string }> {
    const response = await fetch(`${this.idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...params, client_id: this.idp.clientId }).toString(),
    });
    const body = (await response.json()) as { id_token: string; refresh_token?: string; access_token: string };
    if (!response.ok) throw new Error(`token endpoint: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Log out at the IdP: the end-session page, then "Yes, sign me out"; the IdP sends its logout tokens meanwhile. */
  async logout(): Promise<{ page: string; status: number }> {
    const endSession = new URL(`${this.idp.issuer}/session/end`);
    const page = await this.go(endSession);
    const html = await page.text();
    const form = IdpBrowser.formOf(html);
    if (page.status !== 200 || !form) throw new Error(`no logout form (${page.status})`);
    let url = new URL(form.action, endSession);
    let response = await this.go(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, logout: 'yes' }).toString(),
    });
    for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops += 1) {
      url = new URL(response.headers.get('location')!, url);
      response = await this.go(url);
    }
    return { page: /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '', status: response.status };
  }
}

/** A free port on 127.0.0.1 (for a server an IdP must know before it starts). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
