import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';
import type { Projection } from './projection';

/**
 * Parallel projectors (docs/operations.md, "Parallel projectors"). A projection whose rows are
 * partitioned by a key can run as `count` segments: segment i applies the events whose key hashes
 * to i, keeps its own checkpoint row (`<name>#<i>/<count>`) and has exactly one owner at a time
 * (an advisory lock). Every segment reads the whole log; the work that scales is the apply.
 */

const SEGMENT_SEPARATOR = '#';

/** FNV-1a, 32 bits: stable across processes and versions, which `hashtext` or V8 hashes are not promised to be. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The segment a key belongs to. */
export function segmentOf(key: string, count: number): number {
  return fnv1a(key) % count;
}

/** The checkpoint-row name of one segment. */
export function segmentName(projection: string, index: number, count: number): string {
  return `${projection}${SEGMENT_SEPARATOR}${String(index)}/${String(count)}`;
}

/** `customer_activity#2/4` → { projection, index, count }; null for a plain projection name. */
export function parseSegmentName(
  name: string,
): { projection: string; index: number; count: number } | null {
  const match = /^(.+)#(\d+)\/(\d+)$/.exec(name);
  if (!match) return null;
  return { projection: match[1] ?? '', index: Number(match[2]), count: Number(match[3]) };
}

/**
 * One segment of a projection, itself a Projection so the ordinary Projector runs it: the name is
 * the segment's (its checkpoint and lock), the rows are the whole projection's.
 */
export class ProjectionSegment implements Projection {
  readonly name: string;
  readonly version: number;
  readonly batchSize: number | undefined;

  constructor(
    readonly base: Projection & { segmentKey(event: RecordedEvent): string | null },
    readonly index: number,
    readonly count: number,
  ) {
    this.name = segmentName(base.name, index, count);
    this.version = base.version;
    this.batchSize = base.batchSize;
  }

  /** Whether an event is this segment's: keyless events all go to segment 0, so none is lost. */
  owns(event: RecordedEvent): boolean {
    const key = this.base.segmentKey(event);
    return (key === null ? 0 : segmentOf(key, this.count)) === this.index;
  }

  async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    const mine = events.filter((event) => this.owns(event));
    if (mine.length > 0) await this.base.apply(client, mine);
  }
}

export function isSegmentable(
  projection: Projection,
): projection is Projection & { segmentKey(event: RecordedEvent): string | null } {
  return typeof projection.segmentKey === 'function';
}

export class SegmentSettingError extends Error {
  override readonly name = 'SegmentSettingError';
}

/** Segments cap: each reads the whole log, so beyond the cores that apply there is no gain. */
export const MAX_SEGMENTS = 64;

/**
 * `TOUCHLINE_PROJECTION_SEGMENTS`, e.g. `customer_activity=4,web_touchpoints=2`: how many segments
 * each named projection runs as. Unnamed projections run as one. Every process must use the same
 * setting; a projection that cannot be split is refused by name.
 */
export function parseSegmentsSetting(
  value: string | undefined,
  projections: readonly Projection[],
): Map<string, number> {
  const counts = new Map<string, number>();
  if (value === undefined || value.trim() === '') return counts;
  const byName = new Map(projections.map((p) => [p.name, p]));
  for (const part of value.split(',')) {
    const match = /^\s*([\w.-]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!match)
      throw new SegmentSettingError(
        `TOUCHLINE_PROJECTION_SEGMENTS: "${part.slice(0, 80)}" is not <projection>=<segments> (e.g. customer_activity=4)`,
      );
    const name = match[1] ?? '';
    const count = Number(match[2]);
    const projection = byName.get(name);
    if (!projection)
      throw new SegmentSettingError(
        `TOUCHLINE_PROJECTION_SEGMENTS: no projection named "${name}"; known: ${[...byName.keys()].join(', ')}`,
      );
    if (!isSegmentable(projection) && count !== 1)
      throw new SegmentSettingError(
        `TOUCHLINE_PROJECTION_SEGMENTS: ${name} cannot run as segments (its rows are not partitioned by one key); set it to 1 or leave it out`,
      );
    if (count < 1 || count > MAX_SEGMENTS)
      throw new SegmentSettingError(
        `TOUCHLINE_PROJECTION_SEGMENTS: ${name}=${String(count)} is out of range (1 to ${String(MAX_SEGMENTS)})`,
      );
    counts.set(name, count);
  }
  return counts;
}
