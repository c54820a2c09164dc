/**
 * Artifacts: payloads stored once as content-addressed blobs (sha256), their rows (table
 * `artifacts`), verified reads, and the garbage collection of blobs no row references.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.ts';
import { errnoCode, fileErrorReason } from '../engine/formats/file-errors.ts';
import { errorMessage } from '../../shared/errors.ts';
import {
  putBlobBytes,
  putBlobFile,
  removeBlob,
  sha256Of,
  sha256OfFile,
  type PutBlobResult,
} from './blobs.ts';
import { iso, toJson, type Connection } from './connection.ts';
import { newId } from './ids.ts';
import { isTempName, tempOwnerAlive } from './liveness.ts';
import { ArtifactRowSchema, PathRowSchema, type ArtifactRecord } from './schemas.ts';

export interface PutArtifactArgs {
  readonly runId: string;
  readonly nodeId: string;
  /** What the payload is; see the conventions at the top of store/index.ts ('weights', …). */
  readonly kind: string;
  /** Free label inside the node; defaults to ''. */
  readonly name?: string;
  /** The payload in memory… */
  readonly bytes?: Uint8Array;
  /** …or a file to copy in (left where it is). Exactly one of the two. */
  readonly sourceFilePath?: string;
  readonly shape?: readonly number[] | null;
  /** JSON object describing the payload (layout, architecture, dataset…). */
  readonly meta?: Readonly<Record<string, unknown>> | null;
  readonly id?: string;
}

export interface ArtifactFilter {
  readonly nodeId?: string;
  readonly kind?: string;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export class ArtifactRepository {
  constructor(
    private readonly db: Connection,
    /** Absolute folder that artifact paths are relative to. */
    private readonly dataDir: string,
  ) {}

  /**
   * Store a payload as a content-addressed blob (deduplicated on sha256) and record it. The blob
   * is complete on disk before the row commits, so every committed row has its file.
   * `runExists` is checked first so that no blob is written for an unknown run.
   */
  put(args: PutArtifactArgs, runExists: (runId: string) => boolean): ArtifactRecord {
    if ((args.bytes !== undefined) === (args.sourceFilePath !== undefined)) {
      throw new InputError('putArtifact needs exactly one of `bytes` and `sourceFilePath`');
    }
    if (args.shape && !args.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InputError(
        `artifact shape must be non-negative integers, got [${args.shape.join(', ')}]`,
      );
    }
    if (!runExists(args.runId)) throw new InputError(`unknown run '${args.runId}'`);
    if (args.sourceFilePath !== undefined && !isFile(args.sourceFilePath)) {
      throw new InputError(`artifact source file ${args.sourceFilePath} does not exist`);
    }
    const blob = this.writeBlob(args);
    const id = args.id ?? newId('art');
    this.db.tx(() => {
      this.db.run(
        `INSERT INTO artifacts (id, run_id, node_id, kind, name, path, sha256, bytes, shape, meta, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        id,
        args.runId,
        args.nodeId,
        args.kind,
        args.name ?? '',
        blob.relPath,
        blob.sha256,
        blob.bytes,
        args.shape ? JSON.stringify(args.shape) : null,
        args.meta ? toJson(args.meta, 'artifact meta') : null,
        iso(undefined),
      );
    });
    const rec = this.get(id);
    if (!rec) throw new Error(`store: artifact ${id} vanished after insert`);
    return rec;
  }

  private writeBlob(args: PutArtifactArgs): PutBlobResult {
    try {
      return args.bytes !== undefined
        ? putBlobBytes(this.dataDir, args.bytes)
        : putBlobFile(this.dataDir, args.sourceFilePath ?? '');
    } catch (err) {
      throw this.blobError(err, args.sourceFilePath);
    }
  }

  /** Say in words why a payload could not be stored; a missing source file is the caller's fault. */
  private blobError(err: unknown, source: string | undefined): Error {
    const code = errnoCode(err);
    if (source !== undefined && code === 'ENOENT' && !fs.existsSync(source)) {
      return new InputError(`artifact source file ${source} does not exist`);
    }
    return new Error(
      `cannot store the artifact payload under ${path.join(this.dataDir, 'blobs')}: ${fileErrorReason(err, code)}${code ? ` (${code})` : ''}`,
      { cause: err },
    );
  }

  get(id: string): ArtifactRecord | null {
    return (
      this.db.get(ArtifactRowSchema, 'artifacts', 'SELECT * FROM artifacts WHERE id = ?', id) ??
      null
    );
  }

  /** A run's artifacts, optionally of one node and/or kind, in insertion order. */
  of(runId: string, filter: ArtifactFilter = {}): ArtifactRecord[] {
    const where = ['run_id = ?'];
    const params: string[] = [runId];
    if (filter.nodeId !== undefined) {
      where.push('node_id = ?');
      params.push(filter.nodeId);
    }
    if (filter.kind !== undefined) {
      where.push('kind = ?');
      params.push(filter.kind);
    }
    return this.db.all(
      ArtifactRowSchema,
      'artifacts',
      `SELECT * FROM artifacts WHERE ${where.join(' AND ')} ORDER BY rowid`,
      ...params,
    );
  }

  /** Absolute path of an artifact's blob file. */
  file(a: Pick<ArtifactRecord, 'path'>): string {
    return path.join(this.dataDir, ...a.path.split('/'));
  }

  /** Whether the blob exists with the recorded size and sha256. */
  verify(a: ArtifactRecord): boolean {
    const file = this.file(a);
    try {
      if (fs.statSync(file).size !== a.bytes) return false;
    } catch {
      return false;
    }
    return sha256OfFile(file) === a.sha256;
  }

  /** Read a payload, refusing it when the file is missing or does not match its sha256. */
  read(a: ArtifactRecord): Buffer {
    const file = this.file(a);
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`artifact ${a.id}: cannot read ${file}: ${errorMessage(err)}`);
    }
    if (data.byteLength !== a.bytes || sha256Of(data) !== a.sha256) {
      throw new Error(
        `artifact ${a.id}: ${file} does not match its recorded sha256 (corrupt or replaced)`,
      );
    }
    return data;
  }

  /** Blob paths of a run's artifacts. */
  pathsOfRun(runId: string): string[] {
    return this.db
      .all(
        PathRowSchema,
        'artifacts',
        'SELECT DISTINCT path FROM artifacts WHERE run_id = ?',
        runId,
      )
      .map((r) => r.path);
  }

  /** Those of `paths` no artifact row references any more. */
  unreferenced(paths: readonly string[]): string[] {
    return paths.filter(
      (p) =>
        this.db.get(
          PathRowSchema,
          'artifacts',
          'SELECT path FROM artifacts WHERE path = ? LIMIT 1',
          p,
        ) === undefined,
    );
  }

  /** Remove blob files; returns those that were there. */
  removeBlobs(paths: readonly string[]): string[] {
    return paths.filter((p) => removeBlob(this.dataDir, p));
  }

  /**
   * Remove blob files no artifact references and temp files left by killed writers. Run it from a
   * maintenance command, not at every open: it walks the whole blob folder.
   */
  collectGarbage(): { readonly removed: readonly string[] } {
    const root = path.join(this.dataDir, 'blobs');
    if (!fs.existsSync(root)) return { removed: [] };
    const used = new Set(
      this.db
        .all(PathRowSchema, 'artifacts', 'SELECT DISTINCT path FROM artifacts')
        .map((r) => r.path),
    );
    const removed: string[] = [];
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
      const rel = path.posix.join('blobs', entry.name);
      if (entry.isFile()) {
        if (isTempName(entry.name) && !tempOwnerAlive(entry.name)) {
          fs.rmSync(path.join(root, entry.name), { force: true });
          removed.push(rel);
        }
        continue;
      }
      if (!entry.isDirectory()) continue;
      for (const f of fs.readdirSync(path.join(root, entry.name))) {
        const frel = path.posix.join(rel, f);
        const isTemp = isTempName(f);
        if ((isTemp && !tempOwnerAlive(f)) || (!isTemp && !used.has(frel))) {
          removeBlob(this.dataDir, frel);
          removed.push(frel);
        }
      }
    }
    return { removed };
  }
}
