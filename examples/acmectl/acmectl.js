#!/usr/bin/env node
// acmectl: Acme's own CLI, built on latchkey. Browser login, the backend exchange, the keychain,
// `token`, `token inspect`, `status` and completions come from createCli, under Acme's name:
// ACMECTL_* variables, the "acmectl" keychain service, ~/.config/acmectl/.
import { createCli, RejectedError } from 'latchkey';

// Where Acme's IdP and API are (overridable for local development and tests).
const issuer = process.env.ACME_ISSUER ?? 'https://login.acme.example/';
const api = (stage) => process.env.ACME_API ?? `https://api.${stage}.acme.example`;
const acme = { issuer, clientId: 'acmectl', prompt: 'consent', audiencePriority: ['acme-api'] };

const cli = createCli({
  name: 'acmectl',
  version: '1.0.0',
  description: "Acme's command line: sign in once, then talk to the Acme API.",
  defaults: { ...acme, backendUrl: api('prod') },
  profiles: {
    prod: { ...acme, backendUrl: api('prod') },
    stage: { ...acme, backendUrl: api('stage') },
  },
  examples: ['acmectl login', 'acmectl whoami', 'acmectl login -p stage'],
  hiddenCommands: ['oauth'],
  refusalHint: 'Create an API key at https://acme.example/settings/keys, then: acmectl login --with-token -p <profile>',
  extraCommands(program, context) {
    program
      .command('whoami')
      .description('ask the Acme API who you are, with the stored session')
      .action(
        context.action(async (ctx) => {
          const { name, profile } = ctx.requireProfile();
          const { token } = await ctx.token();
          const http = await ctx.http(profile);
          const response = await http.fetch(`${profile.backendUrl}/api/whoami`, { headers: { authorization: `Bearer ${token}` } });
          if (!response.ok)
            throw new RejectedError(`the Acme API refused the session of "${name}" (${response.status})`, {
              hint: `Run: acmectl login -p ${name}`,
            });
          const { user } = await response.json();
          if (!ctx.json(user)) ctx.out.data(user.email ?? user.sub);
        }),
      );
  },
});

await cli.main();
