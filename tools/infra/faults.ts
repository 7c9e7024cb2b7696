/**
 * Fault injection for the local emulators, used only by tests and reliability scripts: a switch
 * that the emulator proxy (emulators.ts) consults for every request, and a tiny stand-alone
 * proxy with the same switch to put in front of any other endpoint (e.g. s3rver).
 *
 * Per service (sqs, sns, s3, dynamodb) a fault is one of
 * - `down`: the connection is dropped without an answer (the SDK sees ECONNRESET, as when an
 *   endpoint is unreachable or a load balancer resets);
 * - `unavailable`: HTTP 503 in the service's own error shape;
 * - `throttle`: the service's real throttling error (SQS `RequestThrottled` 400 in its JSON or
 *   query protocol, SNS `Throttling` 400, S3 `SlowDown` 503, DynamoDB `ThrottlingException` 400),
 *   so the AWS SDK's own retry logic is exercised for real.
 * A fault can be limited to requests whose description (`sqs ReceiveMessage my-queue.fifo`,
 * `sns Publish`, `s3 PUT /bucket/key`, `dynamodb GetItem`) matches `only`, and to the next
 * `count` of them. Every request is recorded (bounded), so tests can count retries.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";

export type FaultService = "sqs" | "sns" | "s3" | "dynamodb";
export type FaultMode = "down" | "unavailable" | "throttle";

export interface FaultRule {
  mode: FaultMode;
  /** only requests whose description matches */
  only?: RegExp;
  /** only the next N matching requests (then the rule clears itself) */
  count?: number;
}

/** What `set` takes per service: a mode, a rule, or null (no fault). */
export type FaultSpec = FaultMode | FaultRule | null;

/** One request that reached the proxy. */
export interface SeenRequest {
  at: number;
  service: FaultService;
  line: string;
  fault: FaultMode | null;
}

const MAX_SEEN = 20_000;

export class FaultSwitch {
  private readonly rules = new Map<FaultService, FaultRule>();
  private readonly log: SeenRequest[] = [];

  /** Sets (or, with null, clears) the fault of each service named; others are unchanged. */
  set(spec: Partial<Record<FaultService, FaultSpec>>): void {
    for (const [service, s] of Object.entries(spec) as [FaultService, FaultSpec][]) {
      if (s === null) this.rules.delete(service);
      else this.rules.set(service, typeof s === "string" ? { mode: s } : { ...s });
    }
  }

  /** No fault anywhere. */
  clear(): void {
    this.rules.clear();
  }

  /** The fault to inject into this request, if any; records the request. */
  check(service: FaultService, line: string): FaultMode | null {
    const rule = this.rules.get(service);
    let fault: FaultMode | null = null;
    if (rule && (!rule.only || rule.only.test(line))) {
      fault = rule.mode;
      if (rule.count !== undefined && --rule.count <= 0) this.rules.delete(service);
    }
    this.log.push({ at: Date.now(), service, line, fault });
    if (this.log.length > MAX_SEEN) this.log.splice(0, this.log.length - MAX_SEEN);
    return fault;
  }

  /** Requests seen (most recent 20,000), optionally of one service, matching a pattern, since a time. */
  seen(filter: { service?: FaultService; match?: RegExp; since?: number } = {}): SeenRequest[] {
    return this.log.filter((r) =>
      (!filter.service || r.service === filter.service) && (!filter.match || filter.match.test(r.line)) && (filter.since === undefined || r.at >= filter.since));
  }
}

/** SQS speaks JSON (`AmazonSQS.*` targets) or, for old clients, the query protocol (XML answers). */
export type WireProtocol = "json" | "query";

/**
 * Answers `res` with the injected fault (or drops the connection). Reads nothing more of the
 * request: the caller may or may not have consumed its body.
 */
export function injectFault(req: http.IncomingMessage, res: http.ServerResponse, service: FaultService, mode: FaultMode, protocol: WireProtocol = "json"): void {
  if (mode === "down") {
    req.socket.destroy();
    return;
  }
  const throttle = mode === "throttle";
  const requestId = randomUUID();
  let status: number;
  let type: string;
  let body: string;
  const headers: http.OutgoingHttpHeaders = { "x-amzn-requestid": requestId };
  switch (service) {
    case "sqs": {
      status = throttle ? 400 : 503;
      const code = throttle ? "RequestThrottled" : "ServiceUnavailable";
      const message = throttle ? "Request is throttled." : "The request has failed due to a temporary failure of the server.";
      const fault = throttle ? "Sender" : "Receiver";
      if (protocol === "query") {
        type = "text/xml";
        body = queryError(fault, code, message, requestId, "http://queue.amazonaws.com/doc/2012-11-05/");
      } else {
        type = "application/x-amz-json-1.0";
        headers["x-amzn-query-error"] = `${code};${fault}`;
        body = JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message });
      }
      break;
    }
    case "sns":
      status = throttle ? 400 : 503;
      type = "text/xml";
      body = throttle
        ? queryError("Sender", "Throttling", "Rate exceeded", requestId, "http://sns.amazonaws.com/doc/2010-03-31/")
        : queryError("Receiver", "ServiceUnavailable", "Service is unavailable.", requestId, "http://sns.amazonaws.com/doc/2010-03-31/");
      break;
    case "s3":
      status = 503;
      type = "application/xml";
      body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${throttle ? "SlowDown" : "ServiceUnavailable"}</Code>` +
        `<Message>${throttle ? "Please reduce your request rate." : "Service is unable to handle request."}</Message>` +
        `<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
      headers["x-amz-request-id"] = requestId;
      break;
    case "dynamodb":
      status = throttle ? 400 : 503;
      type = "application/x-amz-json-1.0";
      body = JSON.stringify(throttle
        ? { __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException", message: "Rate of requests exceeds the allowed throughput." }
        : { __type: "com.amazonaws.dynamodb.v20120810#ServiceUnavailable", message: "The service is currently unavailable." });
      break;
  }
  const payload = Buffer.from(body, "utf8");
  res.writeHead(status, { ...headers, "content-type": type, "content-length": payload.length });
  res.end(payload); // (no body on the wire for HEAD)
  // the rest of an unread request body is not wanted
  req.resume();
}

function queryError(fault: string, code: string, message: string, requestId: string, xmlns: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlns}"><Error><Type>${fault}</Type>` +
    `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

export interface FaultProxy {
  endpoint: string;
  faults: FaultSwitch;
  stop(): Promise<void>;
}

/**
 * A pass-through HTTP proxy on a free loopback port in front of `target`, injecting the faults
 * set for `service` (e.g. in front of s3rver, which the current-protocol tests use for S3).
 */
export async function startFaultProxy(opts: { target: string; service: FaultService; host?: string }): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const faults = new FaultSwitch();
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const line = `${opts.service} ${req.method} ${req.url}`;
    const fault = faults.check(opts.service, line);
    if (fault) return injectFault(req, res, opts.service, fault);
    const headers = { ...req.headers };
    delete headers.connection;
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on("error", () => res.destroy());
    });
    up.on("error", (err) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { "content-type": "text/plain" }).end(`fault proxy: ${err.message}\n`);
    });
    res.on("close", () => { if (!res.writableFinished) up.destroy(); });
    req.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    faults,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}
