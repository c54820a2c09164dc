import type { CliCommand } from '../command.ts';
import { benchCommand } from './bench.ts';
import { doctorCommand } from './doctor.ts';
import { zooCommand } from './zoo.ts';

/** Every CLI subcommand, in the order `d2nwg --help` lists them. */
export const commands: CliCommand[] = [zooCommand, doctorCommand, benchCommand];
