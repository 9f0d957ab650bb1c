import type { OutboundMessage } from '@touchline/messaging';
import { KafkaTransport, type KafkaTransportLogger } from '@touchline/messaging-kafka';
import { Kafka, logLevel } from 'kafkajs';
import { RepublishError } from './republish.exception';

/** Where a republish job writes: one topic, acknowledged sends. */
export interface RepublishSink {
  /** UNKNOWN_TOPIC when the broker has no such topic, KAFKA_UNAVAILABLE when it does not answer. */
  topicExistsOrThrow(topic: string): Promise<void>;
  /** Resolves once every message is acknowledged by all in-sync replicas; rejects otherwise. */
  send(messages: readonly OutboundMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaSinkOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger?: KafkaTransportLogger;
}

/**
 * A Kafka transport of its own rather than the server's: a bulk replay must neither share a
 * send group with the collector's live publishes nor fail them. Its publish is the usual one
 * (idempotent producer, acks from all in-sync replicas, a fresh producer after a failure).
 */
export class KafkaRepublishSink implements RepublishSink {
  private readonly transport: KafkaTransport;
  private readonly kafka: Kafka;

  constructor(options: KafkaSinkOptions) {
    const clientId = `${options.clientId}-republish`;
    this.transport = new KafkaTransport({
      brokers: options.brokers,
      clientId,
      publishTimeoutMs: 15_000,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    // Only to ask whether the topic exists: the transport's ensureTopics would create it.
    this.kafka = new Kafka({
      clientId,
      brokers: [...options.brokers],
      connectionTimeout: 1000,
      requestTimeout: 5000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.NOTHING,
    });
  }

  async topicExistsOrThrow(topic: string): Promise<void> {
    const admin = this.kafka.admin();
    let topics: string[];
    try {
      await admin.connect();
      topics = await admin.listTopics();
    } catch (error) {
      throw new RepublishError(
        'KAFKA_UNAVAILABLE',
        `Kafka did not answer (${error instanceof Error ? error.message : String(error)}); nothing was started`,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (!topics.includes(topic)) {
      throw new RepublishError(
        'UNKNOWN_TOPIC',
        `Kafka has no topic ${topic}: create it first, with the partitions and retention its consumer needs (the broker does not create topics on write)`,
        { topic },
      );
    }
  }

  send(messages: readonly OutboundMessage[]): Promise<void> {
    return this.transport.publisher().publish(messages);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
