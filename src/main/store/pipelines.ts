/** Saved pipelines and their version history (tables `pipelines`, `pipeline_versions`). */
import { iso, toJson, type Connection, type When } from './connection.ts';
import { newId } from './ids.ts';
import {
  PipelineRowSchema,
  PipelineSummaryRowSchema,
  PipelineVersionRowSchema,
  VersionRowSchema,
  type PipelineRecord,
  type PipelineSummary,
  type PipelineVersion,
} from './schemas.ts';

export interface SavePipelineArgs {
  readonly id?: string;
  readonly name: string;
  readonly pipeline: unknown;
  readonly at?: When;
}

const SELECT_PIPELINE =
  'SELECT id, name, current AS pipeline, version, created, updated FROM pipelines';

export class PipelineRepository {
  constructor(private readonly db: Connection) {}

  /**
   * Save a pipeline: updates `current` and appends a history version, so every run can point at
   * exactly what it executed and the user can go back.
   */
  save(args: SavePipelineArgs): PipelineRecord {
    const id = args.id ?? newId('pl');
    const now = iso(args.at);
    const json = toJson(args.pipeline, 'pipeline');
    this.db.tx(() => {
      const prev = this.db.get(
        VersionRowSchema,
        'pipelines',
        'SELECT version FROM pipelines WHERE id = ?',
        id,
      );
      const version = (prev?.version ?? 0) + 1;
      if (prev) {
        this.db.run(
          'UPDATE pipelines SET name = ?, current = ?, version = ?, updated = ? WHERE id = ?',
          args.name,
          json,
          version,
          now,
          id,
        );
      } else {
        this.db.run(
          'INSERT INTO pipelines (id, name, current, version, created, updated) VALUES (?, ?, ?, ?, ?, ?)',
          id,
          args.name,
          json,
          version,
          now,
          now,
        );
      }
      this.db.run(
        'INSERT INTO pipeline_versions (pipeline_id, version, name, json, saved) VALUES (?, ?, ?, ?, ?)',
        id,
        version,
        args.name,
        json,
        now,
      );
    });
    const saved = this.get(id);
    if (!saved) throw new Error(`store: pipeline ${id} vanished after save`);
    return saved;
  }

  list(): PipelineSummary[] {
    return this.db.all(
      PipelineSummaryRowSchema,
      'pipelines',
      'SELECT id, name, version, created, updated FROM pipelines ORDER BY updated DESC, id',
    );
  }

  get(id: string): PipelineRecord | null {
    return (
      this.db.get(PipelineRowSchema, 'pipelines', `${SELECT_PIPELINE} WHERE id = ?`, id) ?? null
    );
  }

  /** Every saved version, oldest first. */
  history(id: string): PipelineVersion[] {
    return this.db.all(
      PipelineVersionRowSchema,
      'pipeline_versions',
      `SELECT pipeline_id, version, name, json AS pipeline, saved FROM pipeline_versions
       WHERE pipeline_id = ? ORDER BY version`,
      id,
    );
  }

  /** Delete a pipeline and its history; its runs stay, detached (pipeline_id NULL). */
  delete(id: string): boolean {
    return this.db.tx(() => this.db.run('DELETE FROM pipelines WHERE id = ?', id) > 0);
  }
}
