import type { Command, Option } from 'commander';
import { EXIT_CODE_MEANINGS } from '../errors.js';
import type { Brand } from './brand.js';
import { environmentTopic } from './help.js';

/** Text as roff reads it: backslashes escaped, a leading dot or quote neutralised, hyphens literal. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

const visible = (command: Command) => !(command as Command & { _hidden?: boolean })._hidden && !command.name().startsWith('__');

function optionItems(options: readonly Option[]): string[] {
  return options.flatMap((option) => [
    '.TP',
    `.B ${roff(option.flags)}`,
    roff(option.description + (option.argChoices ? ` (${option.argChoices.join(', ')})` : '')),
  ]);
}

function header(name: string, section: string, brand: Brand): string {
  return `.TH ${roff(name.toUpperCase())} 1 "" "${roff(`${brand.name} ${brand.version}`)}" "${roff(section)}"`;
}

/**
 * The man pages of a CLI, generated from its commander tree (as the completions are): `NAME.1`
 * with the commands, global options, environment and exit status, and `NAME-COMMAND.1` for each
 * command with its options and subcommands. Keyed by file name.
 */
export function manPages(program: Command, brand: Brand): Record<string, string> {
  const name = brand.name;
  const globals = program.options;
  const commands = program.commands.filter(visible);
  const pages: Record<string, string> = {};
  pages[`${name}.1`] = [
    header(name, 'User Commands', brand),
    '.SH NAME',
    `${roff(name)} \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    `.B ${roff(name)}`,
    '[\\fIoptions\\fR] \\fIcommand\\fR [\\fIargs\\fR]',
    '.SH COMMANDS',
    ...commands.flatMap((command) => ['.TP', `.BR ${roff(`${name}-${command.name()}`)} (1)`, roff(command.description())]),
    '.SH GLOBAL OPTIONS',
    ...optionItems(globals),
    '.SH ENVIRONMENT',
    ...environmentTopic(brand).flatMap(([variable, text]) => ['.TP', `.B ${roff(variable)}`, roff(text)]),
    '.SH EXIT STATUS',
    ...EXIT_CODE_MEANINGS.flatMap(([code, text]) => ['.TP', `.B ${code}`, roff(text)]),
    '.SH SEE ALSO',
    commands.map((command) => `.BR ${roff(`${name}-${command.name()}`)} (1)`).join(',\n'),
    '',
  ].join('\n');
  for (const command of commands) {
    const subcommands = command.commands.filter(visible);
    pages[`${name}-${command.name()}.1`] = [
      header(`${name}-${command.name()}`, 'User Commands', brand),
      '.SH NAME',
      `${roff(`${name}-${command.name()}`)} \\- ${roff(command.description())}`,
      '.SH SYNOPSIS',
      `.B ${roff(`${name} ${command.name()}`)}`,
      roff(command.usage()),
      ...(command.options.length ? ['.SH OPTIONS', ...optionItems(command.options)] : []),
      ...(subcommands.length
        ? [
            '.SH COMMANDS',
            ...subcommands.flatMap((sub) => [
              '.TP',
              `.B ${roff(`${name} ${command.name()} ${sub.name()} ${sub.usage()}`)}`,
              roff(sub.description()),
              ...(sub.options.length ? ['.RS', ...optionItems(sub.options), '.RE'] : []),
            ]),
          ]
        : []),
      '.SH GLOBAL OPTIONS',
      `See \\fB${roff(name)}\\fR(1).`,
      '.SH SEE ALSO',
      `.BR ${roff(name)} (1)`,
      '',
    ].join('\n');
  }
  return pages;
}
