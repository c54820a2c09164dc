/** The shape of one CLI subcommand. Each lives in `cli/commands/<name>.ts`, listed in commands/index.ts. */
export interface CliCommand {
  /** First word after `d2nwg`, e.g. 'doctor' or 'zoo'. */
  readonly name: string;
  /** One line for `d2nwg --help`. */
  readonly summary: string;
  /** Full usage text for `d2nwg <name> --help`. */
  readonly usage: string;
  /** Runs the command; returns the exit code (0 ok, 1 run failed, 2 bad input). */
  run(argv: string[]): Promise<number>;
}
