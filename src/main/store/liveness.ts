/**
 * Process liveness: a run marked `running` whose process is gone was interrupted, and a blob temp
 * file whose writer is gone is garbage.
 */
import { errnoCode } from '../engine/formats/file-errors.ts';
import { iso, type Connection } from './connection.ts';
import { RunStateRowSchema } from './schemas.ts';

/** Whether a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

const TEMP_OWNER = /\.tmp-(\d+)-/;

/** Whether a blob file name is a writer's temp file (`<sha>.tmp-<pid>-<random>`). */
export function isTempName(name: string): boolean {
  return TEMP_OWNER.test(name);
}

/** Whether the process that is writing the temp file `name` still runs. */
export function tempOwnerAlive(name: string): boolean {
  const m = TEMP_OWNER.exec(name);
  if (!m) return false;
  return processAlive(Number(m[1]));
}

/**
 * Mark runs found `running` whose owner process is dead (or unknown) as `interrupted`, with their
 * open nodes; returns their ids.
 */
export function markInterrupted(
  db: Connection,
  isProcessAlive: (pid: number) => boolean,
): string[] {
  const running = db.all(
    RunStateRowSchema,
    'runs',
    "SELECT id, status, started, pid FROM runs WHERE status = 'running'",
  );
  const dead = running.filter((r) => r.pid === null || !isProcessAlive(r.pid)).map((r) => r.id);
  if (dead.length === 0) return [];
  const now = iso(undefined);
  db.tx(() => {
    for (const id of dead) {
      db.run(
        `UPDATE runs SET status = 'interrupted', finished = ?,
           error = COALESCE(error, 'the process running it ended before the run finished')
         WHERE id = ? AND status = 'running'`,
        now,
        id,
      );
      db.run(
        `UPDATE node_runs SET status = 'interrupted', finished = ?
         WHERE run_id = ? AND status IN ('running', 'queued')`,
        now,
        id,
      );
    }
  });
  return dead;
}
