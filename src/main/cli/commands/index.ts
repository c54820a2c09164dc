import type { CliCommand } from '../command.ts';
import { benchCommand } from './bench.ts';
import { doctorCommand } from './doctor.ts';
import { quickstartCommand } from './quickstart.ts';
import { runCommand } from './run.ts';
import { validateCommand } from './validate.ts';
import { serveCommand } from './serve.ts';
import { sweepCommand } from './sweep.ts';
import { runsCommand } from './runs.ts';
import { workerCommand } from './worker.ts';
import { zooCommand } from './zoo.ts';

/** Every CLI subcommand, in the order `d2nwg --help` lists them. */
export const commands: CliCommand[] = [
  runCommand,
  sweepCommand,
  validateCommand,
  quickstartCommand,
  serveCommand,
  runsCommand,
  zooCommand,
  workerCommand,
  doctorCommand,
  benchCommand,
];
