import type { CliCommand } from '../command.ts';

/** Every CLI subcommand, in the order `d2nwg --help` lists them. */
export const commands: CliCommand[] = [];
