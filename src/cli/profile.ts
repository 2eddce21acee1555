import { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { table } from '../io/format.js';
import { safeText } from '../io/text.js';
import { PROFILE_KEYS, parseProfileValue, type Profile } from '../store/profile-keys.js';
import { checkProfileName } from '../store/profiles.js';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

function parseOrUsage(key: string, raw: string) {
  try {
    return parseProfileValue(key, raw);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `profile list|add|set|show|use|remove`: thin wiring over `ProfileStore`. */
export function registerProfile(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  const profile = program.command('profile').description('manage profiles (where to log in, and what to do with the result)');
  profile.addHelpText(
    'after',
    `\nExamples:\n  $ ${n} profile add prod --issuer https://idp.example.com --client-id cli --backend-url https://api.example.com\n` +
      `  $ ${n} profile set prod storage file\n  $ ${n} profile use prod`,
  );

  profile
    .command('list')
    .description('list profiles')
    .addHelpText('after', `\nExample:\n  $ ${n} profile list --json`)
    .action((_options, command: Command) => {
      const ctx = contextFor(command);
      const profiles = ctx.allProfiles();
      const defaultName = ctx.defaultProfileName();
      const rows = Object.entries(profiles).map(([name, p]) => ({
        name,
        default: name === defaultName,
        issuer: p.issuer,
        clientId: p.clientId,
      }));
      if (ctx.json({ profiles: rows })) return;
      if (rows.length === 0) {
        ctx.out.info(`No profiles yet. Add one: ${n} profile add <name> --issuer <url> --client-id <id>`);
        return;
      }
      for (const line of table([
        ['NAME', 'DEFAULT', 'ISSUER', 'CLIENT ID'],
        // Values may come from a server (zero-config) or a hand-edited file: escaped, every one.
        ...rows.map((r) => [safeText(r.name), r.default ? '*' : '', safeText(r.issuer), safeText(r.clientId)]),
      ]))
        ctx.out.data(line);
    });

  const add = profile
    .command('add')
    .description('add a profile (the first one added becomes the default)')
    .argument('<name>', 'profile name')
    .option('--force', 'replace a profile of the same name')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} profile add prod --backend-url https://api.acme.com   (the backend names the IdP; the CLI registers itself)\n` +
        `  $ ${n} profile add prod --issuer https://acme.eu.auth0.com/ --client-id abc123 --audience https://api.acme.com\n` +
        `  $ ${n} profile add local --issuer http://127.0.0.1:8080 --client-id cli --redirect-uri http://127.0.0.1:8085/callback`,
    );
  for (const spec of PROFILE_KEYS) {
    const option = new Option(`--${spec.flag} ${spec.arg}`, spec.description);
    if (spec.default) option.default(undefined, spec.default);
    if (spec.choices) option.choices([...spec.choices]);
    if (spec.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    add.addOption(option);
  }
  add.action(async (name: string, options: Record<string, string | string[] | boolean | undefined>, command: Command) => {
    const ctx = contextFor(command);
    checkProfileName(name);
    let created: Record<string, unknown> = {};
    for (const spec of PROFILE_KEYS) {
      const given = options[camel(spec.flag)];
      const raw = Array.isArray(given) ? given.join(',') : given;
      const preset = brand.defaults?.[spec.key];
      if (typeof raw === 'string') created[spec.key] = parseOrUsage(spec.key, raw).value;
      else if (preset !== undefined) created[spec.key] = preset;
    }
    // A backend URL alone: the backend says where to log in, and the CLI registers itself there.
    const discovering = created.issuer === undefined && created.backendUrl !== undefined;
    for (const spec of PROFILE_KEYS) {
      if (spec.required && created[spec.key] === undefined && !discovering)
        throw new UsageError(`--${spec.flag} is required`, {
          hint: `${n} profile add ${name} --issuer <url> --client-id <id>, or ${n} profile add ${name} --backend-url <url> when the backend publishes its metadata`,
        });
    }
    // Before anything is discovered or registered: a taken name registers nothing.
    if (options.force !== true) ctx.profiles.assertNameFree(name);
    let discovered: import('../flows/zero-config.js').ZeroConfigResult | undefined;
    if (discovering) {
      const { discoverProfile } = await import('../flows/zero-config.js');
      const given = created as Partial<Profile>;
      const wait = ctx.out.progress(`Asking ${String(created.backendUrl)} where to log in…`);
      try {
        discovered = await discoverProfile(
          { backendUrl: String(created.backendUrl), given, clientName: n, addCommand: `${n} profile add ${name}` },
          { http: await ctx.http(given as Profile), clock: ctx.deps.clock, announce: (url) => ctx.out.debug(`fetching ${url}`) },
        );
      } finally {
        wait.stop();
      }
      created = { ...discovered.keys, ...created };
    }
    // The IdP's documented quirks, for every key not given (--preset, or detected from the issuer).
    const given = created as unknown as Profile;
    // Loaded by profile add only: not on the path of every other command.
    const { applyPreset, presetFor } = await import('../store/presets.js');
    const preset = presetFor(given);
    const { profile: withPreset, applied } = preset ? applyPreset(given, preset) : { profile: given, applied: [] as string[] };
    const registration = discovered?.registration;
    const { addProfile } = await import('../flows/add-profile.js');
    const result = await addProfile(
      { name, profile: withPreset, force: options.force === true, ...(registration ? { registration } : {}) },
      { profiles: ctx.profiles, credentials: () => ctx.credentials(), http: (p) => ctx.http(p) },
    );
    const found = discovered
      ? {
          discovered: {
            metadataUrl: discovered.resource.metadataUrl,
            foundVia: discovered.resource.foundVia,
            resource: discovered.resource.resource,
            authorizationServers: discovered.resource.authorizationServers,
            registered: registration !== undefined,
          },
        }
      : {};
    if (ctx.json({ name, default: result.madeDefault, profile: withPreset, ...found })) return;
    for (const line of discovered?.found ?? []) ctx.out.info(line);
    if (preset) {
      ctx.out.info(
        `Applied the ${preset.title} preset${applied.length ? `: ${applied.join('; ')}` : ''}.` +
          ` Change any key with ${n} profile set ${name} <key> <value>.`,
      );
      for (const line of preset.advice(withPreset))
        ctx.out.info(`  - ${line.replaceAll('<name>', name).replaceAll('<ENV>', brand.envPrefix)}`);
    }
    ctx.out.info(
      `Added profile "${name}"${result.madeDefault ? ' (default)' : ''}. Next: ${n} login${result.madeDefault ? '' : ` -p ${name}`}`,
    );
  });

  profile
    .command('set')
    .description('change one key of a profile (an empty value removes an optional key)')
    .argument('<name>', 'profile name')
    .argument('<key>', `one of: ${PROFILE_KEYS.map((s) => s.key).join(', ')}`)
    .argument('<value>', 'new value')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} profile set prod backendUrl https://api.example.com\n` +
        `  $ ${n} profile set prod audience-priority api-token-auth.chainloop,user-auth.chainloop,chainloop`,
    )
    .action(async (name: string, key: string, value: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const spec = PROFILE_KEYS.find((s) => s.key === key || s.flag === key);
      if (!spec) throw new UsageError(`unknown key "${key}"`, { hint: `Known keys: ${PROFILE_KEYS.map((s) => s.key).join(', ')}.` });
      const parsed = value === '' && !spec.required ? undefined : parseOrUsage(key, value).value;
      await ctx.profiles.setKey(name, spec.key, parsed);
      if (ctx.json({ name, key: spec.key, value: parsed ?? null })) return;
      ctx.out.info(parsed === undefined ? `Removed ${spec.key} from profile "${name}".` : `Set ${spec.key} of profile "${name}".`);
    });

  profile
    .command('show')
    .description('show a profile with every key in force (defaults included)')
    .argument('[name]', 'profile name (default: the current profile)')
    .addHelpText('after', `\nExample:\n  $ ${n} profile show prod --json`)
    .action((nameArg: string | undefined, _options, command: Command) => {
      const ctx = contextFor(command);
      const { name, profile: p } = ctx.requireProfile(nameArg ?? ctx.profileName());
      const values = p as unknown as Record<string, unknown>;
      if (ctx.json({ name, default: name === ctx.defaultProfileName(), profile: p })) return;
      const rows = PROFILE_KEYS.map((spec) => {
        const v = values[spec.key];
        const shown =
          v === undefined
            ? spec.default !== undefined
              ? `${spec.default || '(none)'} (default)`
              : '(not set)'
            : Array.isArray(v)
              ? v.join(',')
              : typeof v === 'string'
                ? v
                : JSON.stringify(v);
        return [spec.key, safeText(shown)];
      });
      ctx.out.data(`profile ${safeText(name)}${name === ctx.defaultProfileName() ? ' (default)' : ''}`);
      for (const line of table(rows)) ctx.out.data(`  ${line}`);
    });

  profile
    .command('use')
    .description('make a profile the default')
    .argument('<name>', 'profile name')
    .addHelpText('after', `\nExample:\n  $ ${n} profile use staging`)
    .action(async (name: string, _options, command: Command) => {
      const ctx = contextFor(command);
      await ctx.profiles.use(name);
      if (ctx.json({ default: name })) return;
      ctx.out.info(`Profile "${name}" is now the default.`);
    });

  profile
    .command('remove')
    .alias('rm')
    .description('remove a profile and its stored credential')
    .argument('<name>', 'profile name')
    .addHelpText('after', `\nExample:\n  $ ${n} profile remove old-staging`)
    .action(async (name: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const profile = ctx.requireProfile(name).profile;
      await ctx.profiles.remove(name, async () => (await ctx.credentials()).remove(name));
      // A client this profile registered for itself is deleted at the IdP too (RFC 7592).
      const { forgetRegistration } = await import('../flows/register.js');
      const forgotten = await forgetRegistration(name, {
        credentials: await ctx.credentials(),
        http: () => ctx.http(profile),
        issuer: profile.issuer,
      });
      if (ctx.json({ removed: name, ...(forgotten ? { deregistered: forgotten.outcome !== 'not-deletable' } : {}) })) return;
      if (forgotten?.outcome === 'not-deletable')
        ctx.out.warn(
          `the client ${forgotten.clientId} this profile registered was not deleted at the IdP: ${forgotten.why ?? 'unknown'}.` +
            ` Remove it by hand: the client ${forgotten.clientId} in the admin console of ${profile.issuer}, or ask the IdP's admin`,
        );
      else if (forgotten) ctx.out.info(`Deleted the client ${forgotten.clientId} this profile had registered at the IdP.`);
      ctx.out.info(`Removed profile "${name}".`);
    });
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
