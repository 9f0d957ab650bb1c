import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A customer's web site: pages served from their own origin (another port than the collector). */
export interface TestSite {
  readonly url: string;
  /** Serve `html` at `path` (without query string). */
  setPage(path: string, html: string): void;
  close(): Promise<void>;
}

export async function startSite(): Promise<TestSite> {
  const pages = new Map<string, string>();
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const html = pages.get(path);
    if (html === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(html);
  });
  const url = await listen(server);
  return {
    url,
    setPage: (path, html) => pages.set(path, html),
    close: () => close(server),
  };
}

/** What the browser sent to the collector, as seen on the wire. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly origin: string | undefined;
  readonly body: string;
}

/**
 * An HTTP proxy in front of the collector that records every request: it proves what the
 * browser really sent (a text/plain POST, never an OPTIONS preflight), even while a page was
 * being closed, where the browser's own request events are not reliable.
 */
export interface RecordingProxy {
  readonly url: string;
  readonly requests: RecordedRequest[];
  batchesFor(anonymousId: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const targetUrl = new URL(target);
  const requests: RecordedRequest[] = [];
  const server = createServer((incoming, outgoing) => {
    void readBody(incoming).then((body) => {
      requests.push({
        method: incoming.method ?? '',
        path: incoming.url ?? '',
        contentType: incoming.headers['content-type'],
        origin: incoming.headers.origin,
        body: body.toString('utf8'),
      });
      const forward = httpRequest(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: targetUrl.host },
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.writeHead(502).end());
      forward.end(body);
    });
  });
  const url = await listen(server);
  return {
    url,
    requests,
    batchesFor: (anonymousId) =>
      requests.filter((r) => r.path === '/v1/batch' && r.body.includes(anonymousId)),
    close: () => close(server),
  };
}

/** A URL where nothing listens: the collector "unreachable". */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await close(server);
  return url;
}

function readBody(message: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    message.on('data', (chunk: Buffer) => chunks.push(chunk));
    message.on('end', () => resolve(Buffer.concat(chunks)));
    message.on('error', reject);
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An HTML page that loads tracker.js from `scriptOrigin` and calls init with `options`. */
export function trackerPage(options: {
  readonly scriptOrigin: string;
  readonly init: Record<string, unknown>;
  readonly title?: string;
  /** Extra script run after init. */
  readonly script?: string;
}): string {
  return `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>${options.title ?? 'Test page'}</title>
    <script src="${options.scriptOrigin}/tracker.js"></script>
    <script>
      window.trackerErrors = [];
      touchline.init(Object.assign(${JSON.stringify(options.init)}, {
        onError: function (error) { window.trackerErrors.push({ code: error.code, message: String(error.message) }); }
      }));
      ${options.script ?? ''}
    </script>
  </head>
  <body><a id="next" href="/next">next</a></body>
</html>`;
}
