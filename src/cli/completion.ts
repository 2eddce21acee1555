import { Argument, type Command } from 'commander';
import { NotImplementedError } from '../errors.js';
import type { Brand } from './brand.js';

/** `completion bash|zsh|fish`. */
export function registerCompletion(program: Command, brand: Brand): void {
  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', `\nExample:\n  $ ${brand.name} completion bash > ~/.local/share/bash-completion/completions/${brand.name}`)
    .action(() => {
      throw new NotImplementedError('completion');
    });
}
