/**
 * The small pages the browser sees on the loopback callback. Fixed text only: nothing from the
 * request (query, error description) is ever reflected, so no script or markup can be injected.
 */
export function resultPage(ok: boolean, note?: string): string {
  const title = ok ? 'Signed in' : 'Sign-in did not complete';
  const text = ok
    ? 'You can close this tab and go back to the terminal.'
    : (note ?? 'Go back to the terminal: it says what went wrong and what to do.');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style>
</head><body><h1>${title}</h1><p>${text}</p></body></html>
`;
}

export const NOT_FOUND_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head><body><p>Not found.</p></body></html>\n';
