import { basicAuth } from './server-process';

/**
 * Sends track events to `/v1/batch` in batches of 100, one user after another, and counts what
 * it sent per user: what a projection counting events per customer must end up with exactly.
 */
export class RoundRobinSender {
  /** Events sent per user id. */
  readonly sent = new Map<string, number>();
  private messageNumber = 0;

  constructor(
    private readonly users: readonly string[],
    private readonly event: string,
    private readonly messageIdPrefix: string,
  ) {}

  async send(collectorUrl: string, writeKey: string, count: number): Promise<void> {
    for (let start = 0; start < count; start += 100) {
      const batch = Array.from({ length: Math.min(100, count - start) }, () => {
        const userId = this.users[this.messageNumber % this.users.length] ?? 'none';
        this.messageNumber += 1;
        this.sent.set(userId, (this.sent.get(userId) ?? 0) + 1);
        return {
          type: 'track',
          userId,
          event: this.event,
          messageId: `${this.messageIdPrefix}-${this.messageNumber}`,
          timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, this.messageNumber)).toISOString(),
        };
      });
      const response = await fetch(`${collectorUrl}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
        body: JSON.stringify({ batch }),
      });
      if (response.status !== 200)
        throw new Error(`POST /v1/batch answered ${response.status}: ${await response.text()}`);
    }
  }
}
