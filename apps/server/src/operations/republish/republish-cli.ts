/**
 * `touchline republish ...`: start (with a progress bar), show, cancel. Only talks to the admin
 * API; the job runs in the server, so closing the CLI does not stop it (Ctrl-C asks the server
 * to cancel it, and `--resume` continues it later).
 */
import { type ApiCall, followProgress, progressLine } from '../projections-cli';

export const REPUBLISH_CLI_OPTIONS = {
  from: { type: 'string' },
  rate: { type: 'string' },
  name: { type: 'string' },
  types: { type: 'string' },
} as const;

export const REPUBLISH_HELP = `  republish start <topic> [--from POSITION|ISO-TIME] [--to POSITION|ISO-TIME] [--rate N]
      [--types T1,T2] [--name NAME] [--resume] [--detach]
                                              stream the stored history to a Kafka topic
  republish show <name>                       a job's progress (events, ev/s, ETA, status)
  republish cancel <name>                     stop a running job after the send in flight`;

export interface RepublishCliValues {
  readonly from?: string;
  readonly to?: string;
  readonly rate?: string;
  readonly name?: string;
  readonly types?: string;
  readonly resume?: boolean;
  readonly detach?: boolean;
}

export interface RepublishCliOptions {
  readonly json: boolean;
  readonly pollMs?: number;
  /** Where the progress bar goes (stderr), so stdout keeps only the answer. */
  readonly progress: { write(text: string): unknown; isTTY?: boolean };
}

interface JobView {
  name: string;
  topic: string;
  status: string;
  fromPosition: number | null;
  toPosition: number;
  checkpointPosition: number;
  eventsPublished: number;
  targetEvents: number;
  eventsPerSecond: number | null;
  percent: number;
  etaSeconds: number | null;
  runs: number;
  errorCode: string | null;
  errorMessage: string | null;
}

export class RepublishCliError extends Error {}

export async function republishCommand(
  action: string | undefined,
  target: string | undefined,
  values: RepublishCliValues,
  options: RepublishCliOptions,
  call: ApiCall,
): Promise<string> {
  if (!target) {
    throw new RepublishCliError(
      `Missing the ${action === 'start' ? 'topic' : 'job name'}.\n\n${REPUBLISH_HELP}`,
    );
  }
  const route = (name: string) => `/v1/admin/republish/${encodeURIComponent(name)}`;
  const show = (answer: { job: JobView }) =>
    options.json ? JSON.stringify(answer, null, 2) : describeJob(answer.job);
  switch (action ?? '') {
    case 'show':
      return show((await call('GET', route(target))) as { job: JobView });
    case 'cancel': {
      const answer = (await call('DELETE', route(target))) as { job: JobView };
      return options.json
        ? JSON.stringify(answer, null, 2)
        : `Cancel requested for republish job ${answer.job.name}.`;
    }
    case 'start': {
      const started = (await call('POST', '/v1/admin/republish', startBody(target, values))) as {
        job: JobView;
      };
      const name = started.job.name;
      if (values.detach) {
        return options.json
          ? JSON.stringify(started, null, 2)
          : `Republish job ${name} started; follow it with: touchline republish show ${name}`;
      }
      const finished = await followProgress(
        async () => ((await call('GET', route(name))) as { job: JobView }).job,
        (job) => progressLine(job.name, { ...job, eventsApplied: job.eventsPublished }),
        () => call('DELETE', route(name)),
        'republish job',
        options,
      );
      if (finished.status === 'failed') throw new RepublishCliError(describeJob(finished));
      return show({ job: finished });
    }
    default:
      throw new RepublishCliError(
        `Unknown command "republish ${action ?? ''}".\n\n${REPUBLISH_HELP}`,
      );
  }
}

/** The request body; values the server must judge (a rate that is not a number) go as typed. */
function startBody(topic: string, values: RepublishCliValues): Record<string, unknown> {
  const rate = values.rate;
  return {
    topic,
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values.resume ? { resume: true } : {}),
    ...(values.from === undefined ? {} : { from: values.from }),
    ...(values.to === undefined ? {} : { to: values.to }),
    ...(values.types === undefined
      ? {}
      : { eventTypes: values.types.split(',').map((type) => type.trim()) }),
    ...(rate === undefined ? {} : { rateLimit: /^\d+$/.test(rate) ? Number(rate) : rate }),
  };
}

function describeJob(job: JobView): string {
  const range = `positions ${job.fromPosition ?? 'start'} to ${job.toPosition}`;
  const base = `Republish job ${job.name} to ${job.topic} (run ${job.runs}): ${job.status}, ${job.eventsPublished} of ${job.targetEvents} events published (${range}), checkpoint at position ${job.checkpointPosition}`;
  return job.errorCode || job.errorMessage
    ? `${base}\n${job.errorCode ?? ''} ${job.errorMessage ?? ''}`.trimEnd()
    : base;
}
