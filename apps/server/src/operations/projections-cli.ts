/**
 * `touchline projections ...`: list, show, rebuild (with a progress bar), cancel. Only talks to
 * the admin API; the rebuild runs in the server, so closing the CLI does not stop it (Ctrl-C
 * asks the server to cancel it).
 */

export type ApiCall = (method: string, route: string, body?: unknown) => Promise<unknown>;

export interface ProjectionsCliOptions {
  readonly json: boolean;
  readonly to?: string;
  readonly until?: string;
  readonly resume: boolean;
  readonly strategy?: 'in-place' | 'blue-green' | 'dry-run';
  /** Return once the rebuild is accepted instead of following it. */
  readonly detach: boolean;
  readonly pollMs?: number;
  /** Where the progress bar goes (stderr), so stdout keeps only the answer. */
  readonly progress: { write(text: string): unknown; isTTY?: boolean };
}

interface RebuildView {
  id: string;
  status: string;
  mode: string;
  eventsApplied: number;
  targetEvents: number | null;
  targetPosition: number | null;
  eventsPerSecond: number | null;
  percent: number | null;
  etaSeconds: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** What a running rebuild is doing (replaying, building indexes, ...); see RebuildPhase. */
  phase?: string | null;
  diff?: TableDifferenceView[] | null;
}

interface TableDifferenceView extends Record<string, unknown> {
  table: string;
  liveRows: number;
  rebuiltRows: number;
  onlyInLive: number;
  onlyInRebuilt: number;
  sampleKeys: string[];
}

interface ProjectionView extends Record<string, unknown> {
  name: string;
  rebuild: RebuildView | null;
  segments?: Record<string, unknown>[];
}

const SEGMENT_COLUMNS = [
  'segment',
  'checkpointPosition',
  'lagEvents',
  'lagSeconds',
  'lastAppliedAt',
];

export class ProjectionsCliError extends Error {}

export const PROJECTIONS_HELP = `  projections list                            name, version, checkpoint, head, lag, status
  projections show <name>                     one projection, its segments and its latest rebuild
  projections rebuild <name> [--to POSITION | --until ISO-TIME] [--resume] [--detach]
                                              empty and replay from zero, with a progress bar
  projections rebuild <name> --blue-green     build beside the live tables, then switch at once
  projections rebuild <name> --dry-run        build beside, report the differences, change nothing
  projections reset <name>                    empty it; the live projector replays from zero
  projections rollback <name>                 back to the version the last switch replaced
  projections drop-previous <name>            drop the version kept for rollback
  projections cancel <name>                   stop the running rebuild after its batch`;

const COLUMNS = [
  'name',
  'version',
  'status',
  'checkpointPosition',
  'headPosition',
  'lagEvents',
  'lagSeconds',
  'lastAppliedAt',
];

export async function projectionsCommand(
  action: string | undefined,
  name: string | undefined,
  options: ProjectionsCliOptions,
  call: ApiCall,
  render: (rows: readonly Record<string, unknown>[], columns: readonly string[]) => string,
): Promise<string> {
  const route = (suffix = '') => {
    if (!name) throw new ProjectionsCliError(`Missing the projection name.\n\n${PROJECTIONS_HELP}`);
    return `/v1/admin/projections/${encodeURIComponent(name)}${suffix}`;
  };
  const show = (answer: unknown, text: () => string) =>
    options.json ? JSON.stringify(answer, null, 2) : text();
  switch (action ?? '') {
    case 'list': {
      const answer = (await call('GET', '/v1/admin/projections')) as { items: ProjectionView[] };
      return show(answer, () => render(answer.items, COLUMNS));
    }
    case 'show': {
      const answer = (await call('GET', route())) as ProjectionView;
      const segments = answer.segments ?? [];
      return show(
        answer,
        () =>
          `${render([answer], COLUMNS)}\n` +
          (segments.length > 0 ? `Segments:\n${render(segments, SEGMENT_COLUMNS)}\n` : '') +
          describeRebuild(answer.rebuild),
      );
    }
    case 'cancel': {
      const answer = (await call('DELETE', route('/rebuild'))) as { rebuild: RebuildView };
      return show(answer, () => `Cancel requested for rebuild ${answer.rebuild.id} of ${name}.`);
    }
    case 'rebuild': {
      const body = {
        ...(options.to === undefined ? {} : { to: options.to }),
        ...(options.until === undefined ? {} : { until: options.until }),
        ...(options.resume ? { resume: true } : {}),
        ...(options.strategy && options.strategy !== 'in-place'
          ? { strategy: options.strategy }
          : {}),
      };
      const started = (await call('POST', route('/rebuild'), body)) as { rebuild: RebuildView };
      if (options.detach) {
        return show(
          started,
          () =>
            `Rebuild ${started.rebuild.id} of ${name} started; follow it with: touchline projections show ${name}`,
        );
      }
      const finished = await follow(started.rebuild.id, name!, route(), options, call);
      if (finished.status === 'failed') throw new ProjectionsCliError(describeRebuild(finished));
      return show(finished, () => describeRebuild(finished));
    }
    case 'reset': {
      const started = (await call('POST', route('/reset'))) as { rebuild: RebuildView };
      const finished = options.detach
        ? started.rebuild
        : await follow(started.rebuild.id, name!, route(), options, call);
      if (finished.status === 'failed') throw new ProjectionsCliError(describeRebuild(finished));
      return show(
        finished,
        () =>
          `${describeRebuild(finished)}\nThe live projector now replays ${name} from position zero; follow it with: touchline projections show ${name}`,
      );
    }
    case 'rollback': {
      const started = (await call('POST', route('/rollback'))) as { rebuild: RebuildView };
      const finished = options.detach
        ? started.rebuild
        : await follow(started.rebuild.id, name!, route(), options, call);
      if (finished.status === 'failed') throw new ProjectionsCliError(describeRebuild(finished));
      return show(finished, () => describeRebuild(finished));
    }
    case 'drop-previous': {
      const answer = (await call('DELETE', route('/previous'))) as { dropped: boolean };
      return show(answer, () =>
        answer.dropped
          ? `Dropped the previous version of ${name}; there is nothing to roll back to now.`
          : `${name} kept no previous version; nothing dropped.`,
      );
    }
    default:
      throw new ProjectionsCliError(
        `Unknown command "projections ${action ?? ''}".\n\n${PROJECTIONS_HELP}`,
      );
  }
}

function follow(
  id: string,
  name: string,
  route: string,
  options: ProjectionsCliOptions,
  call: ApiCall,
): Promise<RebuildView> {
  return followProgress(
    async () => {
      const view = (await call('GET', route)) as ProjectionView;
      if (!view.rebuild || view.rebuild.id !== id) {
        throw new ProjectionsCliError(`Rebuild ${id} is no longer the latest of this projection`);
      }
      return view.rebuild;
    },
    (rebuild) => progressLine(name, rebuild),
    () => call('DELETE', `${route}/rebuild`),
    'rebuild',
    options,
  );
}

/** The figures a progress line shows (a rebuild's, or another job's mapped onto them). */
export type ProgressFigures = Pick<
  RebuildView,
  'status' | 'eventsApplied' | 'targetEvents' | 'eventsPerSecond' | 'percent' | 'etaSeconds'
> &
  Partial<Pick<RebuildView, 'phase'>>;

export interface FollowOptions {
  readonly pollMs?: number;
  readonly progress: { write(text: string): unknown; isTTY?: boolean };
}

/**
 * Polls a job the server runs until it is no longer `running`, drawing one progress line per
 * change (rewritten in place on a terminal). Ctrl-C asks the server to cancel the job; a second
 * Ctrl-C leaves it running and exits.
 */
export async function followProgress<T extends { status: string }>(
  read: () => Promise<T>,
  line: (current: T) => string,
  cancel: () => Promise<unknown>,
  what: string,
  options: FollowOptions,
): Promise<T> {
  let cancelling = false;
  const onInterrupt = () => {
    if (cancelling) process.exit(130);
    cancelling = true;
    options.progress.write(`\nCancelling the ${what} (Ctrl-C again to leave it running)...\n`);
    void cancel().catch(() => undefined);
  };
  process.on('SIGINT', onInterrupt);
  let lastLine = '';
  try {
    for (;;) {
      const current = await read();
      const text = line(current);
      if (text !== lastLine) {
        options.progress.write(options.progress.isTTY ? `\r${text}` : `${text}\n`);
        lastLine = text;
      }
      if (current.status !== 'running') {
        if (options.progress.isTTY) options.progress.write('\n');
        return current;
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** `customer_activity [########------------]  40.0%  1200/3000 events  2500 ev/s  ETA 1s` */
export function progressLine(name: string, rebuild: ProgressFigures): string {
  const width = 24;
  const percent = rebuild.percent ?? 0;
  const filled = Math.round((percent / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const rate = rebuild.eventsPerSecond === null ? '- ev/s' : `${rebuild.eventsPerSecond} ev/s`;
  // Past the replay (building indexes, switching, ...) the events count stands still: say why.
  const eta =
    rebuild.status !== 'running'
      ? rebuild.status
      : rebuild.phase && rebuild.phase !== 'replaying'
        ? `${rebuild.phase}...`
        : `ETA ${rebuild.etaSeconds === null ? '-' : formatDuration(rebuild.etaSeconds)}`;
  return `${name} ${bar} ${percent.toFixed(1).padStart(5)}%  ${rebuild.eventsApplied}/${rebuild.targetEvents ?? '?'} events  ${rate}  ${eta}`;
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${seconds % 60}s`
    : `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}

function describeRebuild(rebuild: RebuildView | null): string {
  if (!rebuild) return 'No rebuild yet.';
  const base = `Rebuild ${rebuild.id} (${rebuild.mode}): ${rebuild.status}, ${rebuild.eventsApplied} of ${rebuild.targetEvents ?? '?'} events up to position ${rebuild.targetPosition ?? '?'}`;
  const lines = [base];
  if (rebuild.errorCode || rebuild.errorMessage)
    lines.push(`${rebuild.errorCode ?? ''} ${rebuild.errorMessage ?? ''}`.trimEnd());
  if (rebuild.diff) {
    const differing = rebuild.diff.filter((d) => d.onlyInLive + d.onlyInRebuilt > 0);
    lines.push(
      differing.length === 0
        ? `Dry run: the rebuilt tables equal the live ones (${rebuild.diff.length} tables compared).`
        : `Dry run: ${differing.length} of ${rebuild.diff.length} tables differ:`,
    );
    for (const d of differing)
      lines.push(
        `  ${d.table}: ${d.onlyInLive} rows only live, ${d.onlyInRebuilt} only rebuilt (live ${d.liveRows}, rebuilt ${d.rebuiltRows}); keys ${d.sampleKeys.join(' ')}`,
      );
  }
  return lines.join('\n');
}
