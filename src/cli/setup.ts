import type { Command } from 'commander';
import type { Brand } from './brand.js';
import { registerSetupGit } from './git-credential.js';
import { registerSetupKubectl } from './kubectl.js';
import type { ContextFor } from './program.js';

/** `setup <tool>`: make a tool people already use take its credential from latchkey. */
export function registerSetup(program: Command, contextFor: ContextFor, brand: Brand): void {
  const setup = program.command('setup').description(`make a tool (kubectl, git) get its credential from ${brand.name}`);
  registerSetupKubectl(setup, contextFor, brand);
  registerSetupGit(setup, contextFor, brand);
}
