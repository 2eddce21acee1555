/**
 * Hostile input for `token inspect`, shared by the property test (npm test) and the long fuzz run
 * (npm run fuzz): nesting far deeper than any token, strings made of terminal controls, and what
 * must never reach a terminal raw.
 */
import fc from 'fast-check';

/** What must never reach a terminal raw: C0 (but a line break, JSON's own indentation), DEL, C1, bidi controls. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Arrays or objects nested `depth` levels deep, as JSON text (JSON.stringify itself overflows past a few thousand). */
export function nestedJson(depth: number, open: '[' | '{"a":'): string {
  return `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`;
}

/** JSON nested 1 to `maxDepth` levels deep. */
export const deepJson = (maxDepth: number) =>
  fc
    .tuple(fc.integer({ min: 1, max: maxDepth }), fc.constantFrom<'[' | '{"a":'>('[', '{"a":'))
    .map(([depth, open]) => nestedJson(depth, open));

/** Strings made of terminal controls: ESC/OSC/CSI pieces, C1 (U+009B CSI, U+0085), bidi overrides and isolates, NUL, BEL, DEL. */
export const controlText = fc.string({
  unit: fc.constantFrom(
    '\u001b',
    '\u009b',
    '\u0085',
    '\u202e',
    '\u2066',
    '\u2069',
    '\u0007',
    '\u0000',
    '\u007f',
    '\n',
    '[',
    ']',
    '0',
    ';',
    'J',
    'a',
  ),
});
