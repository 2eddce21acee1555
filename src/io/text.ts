// Characters that must not reach a terminal raw (see safeText).
const BEYOND_C0 = '\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb';
const UNSAFE = new RegExp(`[\\u0000-\\u001f${BEYOND_C0}]`, 'g');
const UNSAFE_BEYOND_C0 = new RegExp(`[${BEYOND_C0}]`, 'g');

const escapeChar = (ch: string) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * The one escaping function for text that came from outside (IdP and backend answers, token
 * claims, discovery documents, HTTP headers) on its way to a terminal.
 *
 * C0 controls (ESC among them, so no ANSI/OSC sequence), DEL, C1 controls (U+0080–U+009F: U+009B
 * is a one-byte CSI on some terminals), soft hyphen, zero-width and other invisible format
 * characters, line/paragraph separators and the bidi embeddings, overrides and isolates
 * (U+202A–E, U+2066–9) are shown as `\uXXXX`: such a string can neither rewrite the terminal
 * nor hide or reorder text.
 */

/**
 * Whether a value holds anything `safeText` would escape (a control character, a line break, an
 * invisible or bidi character): such a value is refused where it would become a profile key.
 */
export function hasUnsafeText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text);
}

export function safeText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** `safeText` that keeps our own line breaks: for messages we compose around outside strings. */
export function safeLines(text: string): string {
  return text
    .split('\n')
    .map((line) => safeText(line))
    .join('\n');
}

/** An outside string as one short, safe line (an IdP's error_description, a backend's error). */
export function safeLine(text: string, max = 300): string {
  const line = safeText(text.replace(/[\r\n\t]+/g, ' '));
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * JSON for stdout: `JSON.stringify` escapes C0 controls but passes DEL, C1 controls and bidi
 * characters through raw; these become `\uXXXX` escapes too. Same value, still valid JSON.
 */
export function safeJson(value: unknown, space = 2): string {
  // Raw C0 characters in the output are only its own indentation: strings have them escaped.
  return JSON.stringify(value, null, space).replace(UNSAFE_BEYOND_C0, escapeChar);
}
