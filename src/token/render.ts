import { relativeTime } from '../io/format.js';
import { safeText } from '../io/text.js';
import type { JsonObject } from './decode.js';
import { iso, type Inspection } from './inspect.js';

const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time', 'updated_at']);

/** A claim value is shown on one line, at most this long: a 60 kB claim must not flood the terminal. */
const MAX_SHOWN = 1000;

function show(value: unknown): string {
  const text = safeText(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length - MAX_SHOWN} more characters; --json shows all)` : text;
}

export interface RenderOptions {
  now: Date;
  color: boolean;
}

/** The human view of `token inspect`: header, claims (times as ISO and relative), kind, audience, signature, diagnostics. */
export function renderInspection(result: Inspection, options: RenderOptions): string[] {
  const paint = (code: number, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const lines: string[] = [];
  const section = (title: string, object: JsonObject) => {
    lines.push(paint(1, title));
    const keys = Object.keys(object);
    const width = Math.min(24, Math.max(0, ...keys.map((k) => safeText(k).length)));
    for (const key of keys) {
      const value = object[key];
      let text = show(value);
      if (TIME_CLAIMS.has(key) && typeof value === 'number' && Number.isFinite(value)) {
        const date = new Date(value * 1000);
        if (!Number.isNaN(date.getTime())) text = `${value}  ${iso(value)} (${relativeTime(date, options.now)})`;
      }
      lines.push(`  ${safeText(key).padEnd(width)}  ${text}`);
    }
    if (keys.length === 0) lines.push('  (none)');
  };
  section('Header', result.header);
  if (result.claims) section('Claims', result.claims);
  if (result.payloadBytes !== undefined) {
    lines.push(paint(1, 'Payload (bytes, not UTF-8 JSON)'));
    lines.push(`  ${show(result.payloadBytes)}`);
  }
  lines.push('');
  const evidence = result.evidence.length > 0 ? `  (${result.evidence.map(show).join(', ')})` : '';
  lines.push(`${paint(1, 'Kind')}       ${show(result.kind)}${evidence}`);
  lines.push(`${paint(1, 'Issuer')}     ${show(result.issuer.summary)}`);
  if (result.identity) {
    const identity = Object.entries(result.identity).map(([key, value]) => `${safeText(key)} ${show(value)}`);
    lines.push(`${paint(1, 'Identity')}   ${identity.join(', ')}`);
  }
  const aud = result.claims?.aud;
  if (typeof aud === 'string' || result.audience.all.length <= 1) {
    // One audience (`aud` a string, or a one-item array) is just that: nothing was chosen among several.
    lines.push(`${paint(1, 'Audience')}   ${result.audience.all.length === 0 ? '(none)' : show(result.audience.all[0])}`);
  } else {
    const all = result.audience.all.map(show).join(', ');
    lines.push(
      `${paint(1, 'Audience')}   ${result.audience.chosen === null ? 'none chosen' : show(result.audience.chosen)}  (all: ${all})`,
    );
  }
  const signature = result.signature;
  const verdict = !signature.checked
    ? signature.reason
      ? show(signature.reason)
      : "not checked (--verify checks it against the issuer's keys)"
    : signature.valid
      ? paint(32, `valid (keys from ${show(signature.jwksUri)})`)
      : paint(31, 'INVALID');
  lines.push(`${paint(1, 'Signature')}  ${verdict}`);
  lines.push('');
  if (result.diagnostics.length === 0) {
    lines.push(`${paint(1, 'Diagnostics')}  none`);
  } else {
    lines.push(paint(1, 'Diagnostics'));
    for (const d of result.diagnostics) {
      const level = d.level === 'error' ? paint(31, 'error  ') : d.level === 'warning' ? paint(33, 'warning') : paint(36, 'info   ');
      lines.push(`  ${level}  ${d.code}: ${show(d.message)}`);
    }
  }
  return lines;
}
