import { Argument, type Command, type Option } from 'commander';
import { PROFILE_KEYS } from '../store/profile-keys.js';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

/** Commands whose first argument is a profile name (completed from the config). */
const PROFILE_ARGUMENT = new Set(['profile use', 'profile show', 'profile set', 'profile remove', 'profile rm']);
/** Commands whose second argument is one of a known set: `profile set NAME <key>`. */
const SECOND_ARGUMENT: Record<string, () => string[]> = { 'profile set': () => PROFILE_KEYS.map((spec) => spec.key) };
/** Options whose value is a profile name, or a file. */
const PROFILE_OPTIONS = new Set(['-p', '--profile']);
const FILE_OPTIONS = new Set(['--config-dir', '--private-key', '--ca-file']);

interface OptionSpec {
  names: string[];
  takesValue: boolean;
  choices: string[];
  /** What completes its value: profile names, its choices, file names, or nothing. */
  value: 'profiles' | 'choices' | 'files' | 'free';
  description: string;
}

interface CommandSpec {
  /** Space-separated path from the root ("" for the root). */
  path: string;
  commands: Array<{ names: string[]; description: string }>;
  options: OptionSpec[];
  profileArgument: boolean;
  choices: string[];
  /** What the second positional argument can be (profile set NAME <key>). */
  secondChoices: string[];
}

/** The completion model, read off the commander tree so it cannot drift from the CLI. */
export function completionModel(program: Command): CommandSpec[] {
  const globals = program.options.map(optionSpec);
  const specs: CommandSpec[] = [];
  const visit = (command: Command, path: string) => {
    const visible = command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const own = command === program ? [] : command.options.map(optionSpec);
    const argument = (command as unknown as { registeredArguments?: Argument[] }).registeredArguments?.[0];
    specs.push({
      path,
      commands: visible.map((c) => ({ names: [c.name(), ...c.aliases()], description: c.description() })),
      options: [
        ...own,
        ...globals,
        { names: ['-h', '--help'], takesValue: false, choices: [], value: 'free', description: 'display help' },
      ],
      profileArgument: PROFILE_ARGUMENT.has(path),
      choices: argument?.argChoices ?? [],
      secondChoices: Object.hasOwn(SECOND_ARGUMENT, path) ? SECOND_ARGUMENT[path]!() : [],
    });
    for (const child of visible) for (const name of [child.name(), ...child.aliases()]) visit(child, path ? `${path} ${name}` : name);
  };
  visit(program, '');
  return specs;
}

function optionSpec(option: Option): OptionSpec {
  const names = [option.short, option.long].filter((n): n is string => typeof n === 'string');
  // Choices declared with .choices(), or written into the placeholder: `--storage <auto|keychain|file>`.
  const placeholder = /<([\w-]+(?:\|[\w-]+)+)>/.exec(option.flags)?.[1];
  const choices = option.argChoices ?? placeholder?.split('|') ?? [];
  const value = names.some((n) => PROFILE_OPTIONS.has(n))
    ? 'profiles'
    : choices.length
      ? 'choices'
      : names.some((n) => FILE_OPTIONS.has(n))
        ? 'files'
        : 'free';
  return { names, takesValue: option.required || option.optional, choices, value, description: option.description };
}

function valueOptions(specs: CommandSpec[]): OptionSpec[] {
  const seen = new Map<string, OptionSpec>();
  for (const spec of specs)
    for (const option of spec.options) if (option.takesValue) for (const name of option.names) seen.set(name, option);
  return [...new Map([...seen.values()].map((o) => [o.names.join(','), o])).values()];
}

const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The shell function's name for a CLI name. */
const functionName = (name: string) => `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;

/** One `case` line per option that takes a value: the shell's pattern, then what completes the value. */
function caseLines(
  values: OptionSpec[],
  pattern: (names: string) => string,
  complete: Record<OptionSpec['value'], (o: OptionSpec) => string>,
): string[] {
  return values.map((o) => `${pattern(o.names.join('|'))} ${complete[o.value](o)}`);
}

export function bashScript(specs: CommandSpec[], name: string): string {
  const fn = functionName(name);
  const values = valueOptions(specs);
  const valueCases = caseLines(values, (pattern) => `    ${pattern})`, {
    profiles: () => `COMPREPLY=($(compgen -W "$(${name} "\${cfg[@]}" __complete profiles 2>/dev/null)" -- "$cur")); return ;;`,
    choices: (o) => `COMPREPLY=($(compgen -W ${q(o.choices.join(' '))} -- "$cur")); return ;;`,
    files: () => 'COMPREPLY=($(compgen -f -- "$cur")); return ;;',
    free: () => 'return ;;',
  });
  const pathCases = specs.map((s) => {
    const words = s.commands
      .flatMap((c) => c.names)
      .concat(s.choices)
      .join(' ');
    const options = s.options.flatMap((o) => o.names).join(' ');
    return (
      `    ${q(s.path)}) commands=${q(words)}; options=${q(options)}; profiles=${s.profileArgument ? 1 : 0};` +
      ` second=${q(s.secondChoices.join(' '))} ;;`
    );
  });
  const commandPaths = specs
    .filter((s) => s.path)
    .map((s) => q(s.path))
    .join('|');
  return `# bash completion for ${name}. Generated by \`${name} completion bash\`: do not edit.
# Install: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path="" word i positional=0 skip=0 commands options profiles second
  local -a cfg=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      # The profiles offered are those of the config dir on the line.
      --config-dir) cfg=(--config-dir "\${COMP_WORDS[i+1]}"); skip=1; continue ;;
      ${values.flatMap((o) => o.names).join('|')}) skip=1; continue ;;
      -*) continue ;;
    esac
    case "\${path:+$path }$word" in
      ${commandPaths}) path="\${path:+$path }$word" ;;
      *) positional=$((positional + 1)) ;;
    esac
  done
  case "$prev" in
${valueCases.join('\n')}
  esac
  case "$path" in
${pathCases.join('\n')}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif ((profiles)) && ((positional == 0)); then
    COMPREPLY=($(compgen -W "$(${name} "\${cfg[@]}" __complete profiles 2>/dev/null)" -- "$cur"))
  elif ((positional == 0)); then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  elif ((positional == 1)) && [[ -n "$second" ]]; then
    COMPREPLY=($(compgen -W "$second" -- "$cur"))
  fi
}
complete -F ${fn} ${name}
`;
}

export function zshScript(specs: CommandSpec[], name: string): string {
  const fn = functionName(name);
  const values = valueOptions(specs);
  const valueCases = caseLines(values, (pattern) => `    (${pattern})`, {
    profiles: () => `compadd -- \${(f)"$(${name} $cfg __complete profiles 2>/dev/null)"}; return ;;`,
    choices: (o) => `compadd -- ${o.choices.map(q).join(' ')}; return ;;`,
    files: () => '_files; return ;;',
    free: () => 'return ;;',
  });
  const pathCases = specs.map((s) => {
    const words = s.commands.flatMap((c) => c.names).concat(s.choices);
    return `    (${q(s.path)}) commands=(${words.map(q).join(' ')}); options=(${s.options
      .flatMap((o) => o.names)
      .map(q)
      .join(' ')}); profiles=${s.profileArgument ? 1 : 0}; second=(${s.secondChoices.map(q).join(' ')}) ;;`;
  });
  const commandPaths = specs
    .filter((s) => s.path)
    .map((s) => q(s.path))
    .join('|');
  return `#compdef ${name}
# zsh completion for ${name}. Generated by \`${name} completion zsh\`: do not edit.
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}"   (then restart zsh)
${fn}() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
  local cmdpath="" word i positional=0 skip=0 profiles=0
  local -a commands options second cfg
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      # The profiles offered are those of the config dir on the line.
      (--config-dir) cfg=(--config-dir "\${words[i+1]}"); skip=1; continue ;;
      (${values.flatMap((o) => o.names).join('|')}) skip=1; continue ;;
      (-*) continue ;;
    esac
    case "\${cmdpath:+$cmdpath }$word" in
      (${commandPaths}) cmdpath="\${cmdpath:+$cmdpath }$word" ;;
      (*) positional=$((positional + 1)) ;;
    esac
  done
  case "$prev" in
${valueCases.join('\n')}
  esac
  case "$cmdpath" in
${pathCases.join('\n')}
    (*) return 1 ;;
  esac
  if [[ "$cur" == -* ]]; then
    compadd -- $options
  elif ((profiles)) && ((positional == 0)); then
    compadd -- \${(f)"$(${name} $cfg __complete profiles 2>/dev/null)"}
  elif ((positional == 0)); then
    compadd -- $commands
  elif ((positional == 1)) && ((\${#second})); then
    compadd -- $second
  fi
}
if [[ "\${funcstack[1]}" == "${fn}" ]]; then ${fn} "$@"; else compdef ${fn} ${name}; fi
`;
}

export function fishScript(specs: CommandSpec[], name: string): string {
  const fn = `__${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const profiles = `${fn}_profiles`;
  const positionals = `${fn}_positionals`;
  const valueNames = valueOptions(specs).flatMap((o) => o.names);
  const lines = [
    `# fish completion for ${name}. Generated by \`${name} completion fish\`: do not edit.`,
    `# Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    `complete -c ${name} -f`,
    '# The profiles of the config dir on the line (--config-dir), else the default one.',
    `function ${profiles}`,
    '    set -l words (commandline -opc)',
    '    set -l at (contains -i -- --config-dir $words)',
    '    if test -n "$at"; and test (count $words) -gt $at',
    `        ${name} --config-dir $words[(math $at + 1)] __complete profiles 2>/dev/null`,
    '    else',
    `        ${name} __complete profiles 2>/dev/null`,
    '    end',
    'end',
    '# How many words on the line are not options (nor option values): the command path and its arguments.',
    `function ${positionals}`,
    '    set -l skip 0',
    '    set -l n 0',
    '    for word in (commandline -opc)[2..-1]',
    '        if test $skip = 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        switch $word',
    `            case ${valueNames.join(' ')}`,
    '                set skip 1',
    "            case '-*'",
    "            case '*'",
    '                set n (math $n + 1)',
    '        end',
    '    end',
    '    echo $n',
    'end',
  ];
  const allPaths = specs.filter((s) => s.path).map((s) => s.path);
  const condition = (path: string) => {
    // Not __fish_use_subcommand: it takes the value of --config-dir for a subcommand.
    if (!path) return `test (${positionals}) -eq 0`;
    const parts = path.split(' ');
    const deeper = allPaths.filter((p) => p.startsWith(`${path} `)).map((p) => p.split(' ')[parts.length]);
    const here = parts.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ');
    return deeper.length ? `${here}; and not __fish_seen_subcommand_from ${[...new Set(deeper)].join(' ')}` : here;
  };
  for (const spec of specs) {
    const when = condition(spec.path);
    for (const command of spec.commands)
      for (const n of command.names) lines.push(`complete -c ${name} -n ${q(when)} -a ${q(n)} -d ${q(command.description)}`);
    if (spec.choices.length) lines.push(`complete -c ${name} -n ${q(when)} -a ${q(spec.choices.join(' '))}`);
    const depth = spec.path.split(' ').length;
    if (spec.profileArgument)
      lines.push(`complete -c ${name} -n ${q(`${when}; and test (${positionals}) -eq ${depth}`)} -a '(${profiles})'`);
    // The second argument (profile set NAME <key>): right after the first one.
    if (spec.secondChoices.length)
      lines.push(
        `complete -c ${name} -n ${q(`${when}; and test (${positionals}) -eq ${depth + 1}`)} -a ${q(spec.secondChoices.join(' '))}`,
      );
    for (const option of spec.options) {
      if (!spec.path && option.names.includes('-h')) continue;
      const short = option.names.find((n) => /^-[^-]$/.test(n));
      const long = option.names.find((n) => n.startsWith('--'));
      const flags = `${short ? ` -s ${short.slice(1)}` : ''}${long ? ` -l ${long.slice(2)}` : ''}`;
      let line = `complete -c ${name} -n ${q(when)}${flags} -d ${q(option.description)}`;
      if (option.takesValue) {
        line +=
          option.value === 'profiles'
            ? ` -x -a '(${profiles})'`
            : option.value === 'choices'
              ? ` -x -a ${q(option.choices.join(' '))}`
              : option.value === 'files'
                ? ' -r -F'
                : ' -x';
      }
      lines.push(line);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `completion bash|zsh|fish`, and the hidden `__complete profiles` the scripts call. */
export function registerCompletion(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} completion bash > ~/.local/share/bash-completion/completions/${n}\n` +
        `  $ ${n} completion zsh > "\${fpath[1]}/_${n}"\n  $ ${n} completion fish > ~/.config/fish/completions/${n}.fish`,
    )
    .action((shell: 'bash' | 'zsh' | 'fish', _options, command: Command) => {
      const specs = completionModel(program);
      const script = shell === 'bash' ? bashScript(specs, n) : shell === 'zsh' ? zshScript(specs, n) : fishScript(specs, n);
      contextFor(command).deps.streams.stdout.write(script);
    });

  program
    .command('__complete', { hidden: true })
    .argument('<what>')
    .action((what: string, _options, command: Command) => {
      // Called by the completion scripts at every <TAB>: quiet and never failing.
      if (what !== 'profiles') return;
      try {
        const ctx = contextFor(command);
        ctx.deps.streams.stdout.write(
          Object.keys(ctx.allProfiles())
            .map((p) => `${p}\n`)
            .join(''),
        );
      } catch {
        // no config, or an unreadable one: nothing to offer
      }
    });
}
