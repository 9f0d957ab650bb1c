import { EVENT_CATALOG } from '@touchline/contracts';
import {
  compareCheckpoints,
  type EventStore,
  formatCheckpoint,
  type GlobalCheckpoint,
  type RecordedEvent,
} from '@touchline/event-store';
import type { OutboundMessage } from '@touchline/messaging';
import type { Logger } from 'pino';
import {
  type RepublishJob,
  type RepublishJobStore,
  type RepublishJobView,
  viewOf,
} from './republish-job-store';
import { republishMessage } from './republish-message';
import type { RepublishRequest, ResumeRepublish, StartRepublish } from './republish-request';
import type { RepublishSink } from './republish-sink';
import {
  jobCompletedError,
  jobExistsError,
  jobRunningError,
  RepublishError,
} from './republish.exception';
import { TokenBucket } from './token-bucket';

export interface RepublisherOptions {
  /** Events read from the store at once. */
  readonly readBatch?: number;
  /** Messages in one acknowledged send (and one checkpoint). */
  readonly maxChunk?: number;
  readonly heartbeatMs?: number;
  /** Attempts of one send before the job fails (a broker briefly away is retried). */
  readonly sendAttempts?: number;
  readonly clock?: () => Date;
}

interface Control {
  stop: 'cancel' | 'shutdown' | null;
  done: Promise<void>;
}

class Stopped extends Error {}

/** A send's share of a page, and the checkpoint that is safe to store once Kafka has it. */
interface Chunk {
  readonly messages: OutboundMessage[];
  checkpoint: GlobalCheckpoint;
}

/** Event types the collector publishes: the only ones a republish turns back into envelopes. */
const PUBLISHABLE_TYPES = new Set<string>(EVENT_CATALOG.map((entry) => entry.type));

// Under the broker's 1 MB default for one partition's record batch.
const MAX_CHUNK_BYTES = 768 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Streams the stored history, in global order, to a Kafka topic as the collector's envelopes.
 * Checkpointed after every acknowledged send, so a cancel, a crash or a failure resumes where
 * Kafka last confirmed: at-least-once (a send that failed after the broker stored it, or a crash
 * between the acknowledgement and the checkpoint, repeats that send; consumers dedupe on the
 * event id).
 */
export class Republisher {
  private readonly running = new Map<string, Control>();
  private readonly readBatch: number;
  private readonly maxChunk: number;
  private readonly heartbeatMs: number;
  private readonly sendAttempts: number;
  private readonly clock: () => Date;

  constructor(
    private readonly jobs: RepublishJobStore,
    private readonly store: EventStore,
    /** Null when the server runs without a Kafka broker (embedded mode). */
    private readonly sinks: (() => RepublishSink) | null,
    /** This deployment's ingest topics: never a target (the recorder would read them back). */
    private readonly ingestTopics: readonly string[],
    private readonly logger: Logger,
    options: RepublisherOptions = {},
  ) {
    this.readBatch = options.readBatch ?? 2_000;
    this.maxChunk = options.maxChunk ?? 500;
    this.heartbeatMs = options.heartbeatMs ?? 1_000;
    this.sendAttempts = options.sendAttempts ?? 5;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Validate, record and launch (or resume) a job; refusals change nothing. */
  async start(request: RepublishRequest, actorKeyId: string | null): Promise<RepublishJobView> {
    const sinks = this.sinks;
    if (!sinks) {
      throw new RepublishError(
        'KAFKA_REQUIRED',
        'Republish needs a Kafka broker: this server runs without one (set KAFKA_BROKERS)',
      );
    }
    if (request.topic !== null && this.ingestTopics.includes(request.topic)) {
      throw new RepublishError(
        'INVALID_REQUEST',
        `Bad parameters: topic ${request.topic} is one of this deployment's ingest topics; the recorder would read the history back`,
        { problems: ['topic'] },
      );
    }
    const sink = sinks();
    try {
      if (request.resume) await this.claim(request, sink);
      else await this.create(request, sink, actorKeyId);
    } catch (error) {
      await sink.close();
      throw error;
    }
    this.launch(request.name, sink);
    return this.get(request.name);
  }

  /** Ask the running job (in any process) to stop after the send in flight. */
  async cancel(name: string): Promise<RepublishJobView> {
    await this.jobs.requestCancel(name);
    const local = this.running.get(name);
    if (local) local.stop ??= 'cancel';
    return this.get(name);
  }

  async get(name: string): Promise<RepublishJobView> {
    return viewOf(await this.jobs.getOrThrow(name), this.clock());
  }

  async list(): Promise<RepublishJobView[]> {
    const now = this.clock();
    return (await this.jobs.list()).map((job) => viewOf(job, now));
  }

  /** On shutdown: stop this process's jobs; each resumes from its checkpoint. */
  async stopAll(): Promise<void> {
    for (const control of this.running.values()) control.stop ??= 'shutdown';
    await Promise.all([...this.running.values()].map((control) => control.done));
  }

  private async create(
    request: StartRepublish,
    sink: RepublishSink,
    actorKeyId: string | null,
  ): Promise<void> {
    const existing = await this.jobs.get(request.name);
    if (existing) throw jobExistsError(request.name, existing.status);
    const range = await this.jobs.resolveRangeOrThrow(
      request.from,
      request.to,
      request.eventTypes,
      await this.store.head(),
    );
    await sink.topicExistsOrThrow(request.topic);
    await this.jobs.insert(request.name, request.topic, range, request.rateLimit, actorKeyId);
  }

  private async claim(request: ResumeRepublish, sink: RepublishSink): Promise<void> {
    const job = await this.jobs.getOrThrow(request.name);
    if (request.topic !== null && request.topic !== job.topic) {
      throw new RepublishError(
        'INVALID_REQUEST',
        `Bad parameters: topic ${request.topic} is not the topic of job ${job.name} (${job.topic}); a resume keeps its topic`,
        { problems: ['topic'] },
      );
    }
    if (job.status === 'running') throw jobRunningError(job.name);
    if (job.status === 'completed') throw jobCompletedError(job.name);
    await sink.topicExistsOrThrow(job.topic);
    await this.jobs.claimForResume(job.name, request.rateLimit);
  }

  private launch(name: string, sink: RepublishSink): void {
    const control: Control = { stop: null, done: Promise.resolve() };
    control.done = this.run(name, sink, control).finally(() => this.running.delete(name));
    this.running.set(name, control);
  }

  private async run(name: string, sink: RepublishSink, control: Control): Promise<void> {
    const log = this.logger.child({ republishJob: name });
    const heartbeat = setInterval(() => {
      void this.jobs
        .heartbeat(name)
        .then((cancel) => {
          if (cancel) control.stop ??= 'cancel';
        })
        .catch(() => undefined);
    }, this.heartbeatMs);
    let published = 0;
    let outcome: {
      status: 'completed' | 'cancelled' | 'failed' | 'interrupted';
      code: string | null;
      message: string | null;
    };
    try {
      const job = await this.jobs.getOrThrow(name);
      log.info(
        {
          topic: job.topic,
          from: formatCheckpoint(job.checkpoint),
          to: formatCheckpoint(job.range.target),
          rateLimit: job.rateLimit,
          run: job.runs,
        },
        'republish started',
      );
      published = await this.replay(job, sink, control);
      outcome = { status: 'completed', code: null, message: null };
      log.info({ events: published }, 'republish completed');
    } catch (error) {
      if (error instanceof Stopped) {
        outcome =
          control.stop === 'shutdown'
            ? {
                status: 'interrupted',
                code: 'SHUTDOWN',
                message: 'The server stopped; resume the job with "resume": true',
              }
            : {
                status: 'cancelled',
                code: null,
                message: 'Cancelled; resume continues from the checkpoint',
              };
        log.warn({ events: published, reason: control.stop }, 'republish stopped');
      } else {
        outcome = {
          status: 'failed',
          code: errorCode(error),
          message: error instanceof Error ? error.message.slice(0, 500) : String(error),
        };
        log.error({ err: error, events: published }, 'republish failed');
      }
    } finally {
      clearInterval(heartbeat);
      await sink.close();
    }
    await this.jobs
      .finish(name, outcome.status, outcome.code, outcome.message)
      .catch((error: unknown) =>
        log.error({ err: error }, 'could not record the republish outcome'),
      );
  }

  /** Reads from the checkpoint to the target; returns the events published in this run. */
  private async replay(job: RepublishJob, sink: RepublishSink, control: Control): Promise<number> {
    const rate = job.rateLimit;
    // About five sends a second when throttled, so the rate holds smoothly and a cancel is quick.
    const chunkLimit =
      rate === null ? this.maxChunk : Math.max(1, Math.min(this.maxChunk, Math.ceil(rate / 5)));
    const bucket = rate === null ? null : new TokenBucket(rate, chunkLimit);
    const types = job.range.eventTypes ? new Set(job.range.eventTypes) : null;
    const target = job.range.target;
    let after = job.checkpoint;
    let published = 0;
    while (compareCheckpoints(after, target) < 0) {
      if (control.stop) throw new Stopped();
      const page = await this.store.readAll({ after, maxCount: this.readBatch });
      const events = page.events.filter((e) => compareCheckpoints(checkpointOf(e), target) <= 0);
      const last = events[events.length - 1];
      if (!last) break;
      const chunks = this.chunks(job, events, types, chunkLimit);
      for (const chunk of chunks) {
        await bucket?.take(chunk.messages.length);
        if (control.stop) throw new Stopped();
        await this.sendOrThrow(sink, chunk.messages, control);
        await this.jobs.saveCheckpoint(job.name, chunk.checkpoint, chunk.messages.length);
        published += chunk.messages.length;
      }
      after = checkpointOf(last);
    }
    return published;
  }

  /**
   * Splits a page into sends. The last chunk's checkpoint is the page's last event, so events
   * skipped by type are passed too; a page with nothing to send still moves the checkpoint.
   */
  private chunks(
    job: RepublishJob,
    events: readonly RecordedEvent[],
    types: ReadonlySet<string> | null,
    limit: number,
  ): Chunk[] {
    const chunks: Chunk[] = [];
    let current: Chunk | null = null;
    let bytes = 0;
    for (const event of events) {
      if (types && !types.has(event.type)) continue;
      // Records of the platform itself (an erasure) are not touchpoints and have no envelope.
      if (!PUBLISHABLE_TYPES.has(event.type)) continue;
      const message = republishMessage(job.name, job.topic, event);
      const size = message.value.length + message.key.length;
      if (!current || current.messages.length >= limit || bytes + size > MAX_CHUNK_BYTES) {
        current = { messages: [], checkpoint: checkpointOf(event) };
        chunks.push(current);
        bytes = 0;
      }
      current.messages.push(message);
      current.checkpoint = checkpointOf(event);
      bytes += size;
    }
    const last = events[events.length - 1];
    if (last) {
      const tail = chunks[chunks.length - 1] ?? { messages: [], checkpoint: checkpointOf(last) };
      tail.checkpoint = checkpointOf(last);
      if (chunks.length === 0) chunks.push(tail);
    }
    return chunks;
  }

  /** A broker briefly away is retried with backoff; a repeat may duplicate (at-least-once). */
  private async sendOrThrow(
    sink: RepublishSink,
    messages: readonly OutboundMessage[],
    control: Control,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.send(messages);
        return;
      } catch (error) {
        if (attempt >= this.sendAttempts) throw error;
        this.logger.warn(
          { err: error, attempt, messages: messages.length },
          'republish send failed; retrying',
        );
        await sleep(Math.min(500 * 2 ** (attempt - 1), 5_000));
        if (control.stop) throw new Stopped();
      }
    }
  }
}

function checkpointOf(event: RecordedEvent): GlobalCheckpoint {
  return { transactionId: event.transactionId, position: event.globalPosition };
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code;
  return error instanceof Error ? error.constructor.name : 'UNKNOWN';
}
