/**
 * Local AWS emulators for development and tests: fauxqs (SQS, SNS, S3) behind a small HTTP
 * reverse proxy, and dynalite (DynamoDB, in memory), everything on loopback.
 *
 * Why the proxy: fauxqs names queues `http://sqs.<region>.localhost:<port>/000000000000/<name>`
 * (a host that does not resolve here) while the README and LocalStack habits use
 * `http://localhost:4566/queue/<name>`; and fauxqs speaks only the SQS JSON protocol while
 * Debian's awscli 2.9 sends SQS requests in the query protocol. So the proxy
 * - rewrites LocalStack-style queue URLs to the canonical one in the configured region (JSON
 *   body `QueueUrl`, form `QueueUrl`, or a request POSTed to the queue URL's own path);
 * - translates query-protocol SQS requests to JSON and the answers back to XML (sqs-query.ts);
 * - sends DynamoDB requests (`X-Amz-Target: DynamoDB_…`) on to dynalite, so one endpoint
 *   serves every service;
 * - streams everything else (SNS, S3 path-style, /health) through untouched.
 * fauxqs listens on an internal free loopback port (`startFauxqs` would bind 0.0.0.0, so the
 * app is built with `buildApp`).
 *
 * `faults` (faults.ts) lets tests make a service fail for a while: connections dropped, 503s or
 * the service's real throttling errors, on every request or only matching ones.
 */
import http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { buildApp } from "fauxqs";
import { isSqsQuery, queryErrorXml, queryResponseXml, queryToJson, signedService } from "./sqs-query.ts";
import { FaultSwitch, injectFault, type FaultService, type WireProtocol } from "./faults.ts";

export const ACCOUNT_ID = "000000000000";

export interface EmulatorOptions {
  /** proxy (SQS/SNS/S3) port; 0 = a free port */
  port?: number;
  /** DynamoDB port; 0 = a free port */
  dynamoPort?: number;
  /** address to bind; loopback by default */
  host?: string;
  region?: string;
  /** called once per request with a short description ("sqs SendMessage (query) development-queue.fifo") */
  onRequest?: (line: string) => void;
}

export interface Emulators {
  /** SQS/SNS/S3 endpoint (the proxy) */
  endpoint: string;
  dynamoEndpoint: string;
  /** fauxqs's own address behind the proxy (diagnostics) */
  fauxqsEndpoint: string;
  region: string;
  /** fault injection (tests): `faults.set({ sqs: "down" })`, `faults.clear()`, `faults.seen(…)` */
  faults: FaultSwitch;
  /** closes every listener and connection; safe to call twice */
  stop(): Promise<void>;
}

/** The canonical fauxqs queue URL for a queue name. */
export function canonicalQueueUrl(name: string, region: string, port: number): string {
  return `http://sqs.${region}.localhost:${port}/${ACCOUNT_ID}/${name}`;
}

const LOCAL_QUEUE_URL =
  /^https?:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?\/(?:queue\/(?:([a-z]{2}(?:-[a-z]+)+-\d)\/\d{12}\/)?|\d{12}\/)([\w-]{1,80}(?:\.fifo)?)\/?$/;

/**
 * A LocalStack-style queue URL (`http://localhost:4566/queue/<name>`,
 * `http://127.0.0.1:4566/000000000000/<name>`, `…/queue/<region>/<account>/<name>`) as
 * fauxqs's canonical URL in `region` (unless the URL names one); other URLs unchanged.
 */
export function rewriteQueueUrl(url: string, region: string, port: number): string {
  const m = LOCAL_QUEUE_URL.exec(url);
  return m ? canonicalQueueUrl(m[2]!, m[1] ?? region, port) : url;
}

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"];
const MAX_BUFFERED = 16 * 1024 * 1024;

function cleanHeaders(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders, drop: string[] = []): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...headers };
  for (const h of [...HOP_BY_HOP, ...drop]) delete out[h];
  return out;
}

class TooLarge extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BUFFERED) {
        reject(new TooLarge());
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const queueName = (url: unknown): string => (typeof url === "string" ? url.split("/").pop() ?? "" : "");

type Dynalite = (opts: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => http.Server;

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => reject(err);
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startEmulators(opts: EmulatorOptions = {}): Promise<Emulators> {
  const host = opts.host ?? "127.0.0.1";
  const region = opts.region ?? "eu-west-1";
  const onRequest = opts.onRequest ?? (() => {});
  const faults = new FaultSwitch();
  /** Records a request; true when a fault was injected instead (the caller stops there). */
  const note = (line: string, service: FaultService, req: http.IncomingMessage, res: http.ServerResponse, protocol: WireProtocol = "json"): boolean => {
    onRequest(line);
    const fault = faults.check(service, line);
    if (!fault) return false;
    injectFault(req, res, service, fault, protocol);
    return true;
  };

  const app = buildApp({ logger: false, defaultRegion: region });
  const fauxqsAddress = await app.listen({ port: 0, host: "127.0.0.1" });
  const fauxqsPort = Number(new URL(fauxqsAddress).port);

  const require = createRequire(import.meta.url);
  const dynalite = require("dynalite") as Dynalite;
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const agent = new http.Agent({ keepAlive: true });
  const proxy = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, err));
  });
  proxy.keepAliveTimeout = 5_000;
  let publicPort = 0;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await closeServer(proxy);
    agent.destroy();
    await app.close();
    await closeServer(dynamo);
  })());

  try {
    publicPort = await listen(proxy, opts.port ?? 0, host);
    const dynamoPort = await listen(dynamo, opts.dynamoPort ?? 0, host);
    const urlHost = host.includes(":") ? `[${host}]` : host;
    return {
      endpoint: `http://${urlHost}:${publicPort}`,
      dynamoEndpoint: `http://${urlHost}:${dynamoPort}`,
      fauxqsEndpoint: `http://127.0.0.1:${fauxqsPort}`,
      region,
      faults,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }

  function fail(res: http.ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = err instanceof TooLarge ? 413 : 502;
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(`local AWS proxy: ${err instanceof TooLarge ? "request body too large" : (err as Error)?.message ?? String(err)}\n`);
  }

  /** Sends one request to fauxqs; streams `body` when it is the client request itself. */
  function upstream(
    method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer | http.IncomingMessage, client: http.ServerResponse,
    port = fauxqsPort,
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const up = http.request({ host: "127.0.0.1", port, method, path, headers, agent }, resolve);
      up.on("error", reject);
      // a client that goes away (e.g. an aborted long poll) takes its upstream request with it
      client.on("close", () => { if (!client.writableFinished) up.destroy(); });
      if (Buffer.isBuffer(body)) up.end(body);
      else body.pipe(up);
    });
  }

  function relay(upRes: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(upRes.statusCode ?? 502, cleanHeaders(upRes.headers));
    upRes.pipe(res);
    upRes.on("error", () => res.destroy());
  }

  function canonical(url: string): string {
    return rewriteQueueUrl(url, region, publicPort);
  }

  /** Queue URL implied by a request POSTed to a queue's own path (old SDKs, `--queue-url` as endpoint). */
  function urlFromPath(req: http.IncomingMessage): string | undefined {
    const path = (req.url ?? "/").split("?")[0]!;
    return path === "/" ? undefined : canonical(`http://localhost${path}`);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const type = String(req.headers["content-type"] ?? "");
    const target = req.headers["x-amz-target"];
    if (req.method === "POST" && typeof target === "string" && target.startsWith("AmazonSQS.")) {
      return sqsJson(req, res, target.slice("AmazonSQS.".length));
    }
    if (typeof target === "string" && target.startsWith("DynamoDB_")) {
      // DynamoDB on the same endpoint too, so AWS_ENDPOINT_URL alone is enough
      if (note(`dynamodb ${target.split(".").pop()}`, "dynamodb", req, res)) return;
      const port = (dynamo.address() as AddressInfo).port;
      return relay(await upstream(req.method ?? "POST", req.url ?? "/", cleanHeaders(req.headers, ["expect"]), req, res, port), res);
    }
    if (req.method === "POST" && type.includes("application/x-www-form-urlencoded")) {
      const body = await readBody(req);
      const params = new URLSearchParams(body.toString("utf8"));
      if (isSqsQuery(params, req.headers.authorization)) return sqsQuery(req, res, params);
      const service = signedService(req.headers.authorization) ?? "sns";
      if (note(`${service} ${params.get("Action") ?? "?"}`, service === "s3" || service === "dynamodb" ? service : "sns", req, res)) return;
      const headers = cleanHeaders(req.headers, ["expect", "content-length"]);
      headers["content-length"] = body.length;
      return relay(await upstream("POST", req.url ?? "/", headers, body, res), res);
    }
    if (note(`s3 ${req.method} ${req.url}`, "s3", req, res)) return;
    relay(await upstream(req.method ?? "GET", req.url ?? "/", cleanHeaders(req.headers, ["expect"]), req, res), res);
  }

  async function sqsJson(req: http.IncomingMessage, res: http.ServerResponse, action: string): Promise<void> {
    const raw = await readBody(req);
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = raw.length ? JSON.parse(raw.toString("utf8")) : {};
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch { /* not JSON: fauxqs answers with its own error */ }
    let out = raw;
    if (body) {
      const fromPath = urlFromPath(req);
      if (typeof body.QueueUrl === "string") body.QueueUrl = canonical(body.QueueUrl);
      else if (fromPath) body.QueueUrl = fromPath;
      out = Buffer.from(JSON.stringify(body));
    }
    if (note(`sqs ${action} ${queueName(body?.QueueUrl ?? body?.QueueName)}`.trimEnd(), "sqs", req, res)) return;
    const headers = cleanHeaders(req.headers, ["expect", "content-length"]);
    headers["content-length"] = out.length;
    relay(await upstream("POST", "/", headers, out, res), res);
  }

  async function sqsQuery(req: http.IncomingMessage, res: http.ServerResponse, params: URLSearchParams): Promise<void> {
    const { action, input } = queryToJson(params);
    const fromPath = urlFromPath(req);
    if (typeof input.QueueUrl === "string") input.QueueUrl = canonical(input.QueueUrl);
    else if (fromPath) input.QueueUrl = fromPath;
    if (note(`sqs ${action} (query) ${queueName(input.QueueUrl ?? input.QueueName)}`.trimEnd(), "sqs", req, res, "query")) return;
    const out = Buffer.from(JSON.stringify(input));
    const headers: http.OutgoingHttpHeaders = {
      host: req.headers.host ?? `127.0.0.1:${publicPort}`,
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `AmazonSQS.${action}`,
      "content-length": out.length,
    };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const upRes = await upstream("POST", "/", headers, out, res);
    const text = (await readBody(upRes)).toString("utf8");
    const requestId = randomUUID();
    const status = upRes.statusCode ?? 502;
    let xml: string;
    if (status === 200) {
      let output: unknown = {};
      try {
        output = text ? JSON.parse(text) : {};
      } catch { /* an empty answer */ }
      xml = queryResponseXml(action, output, requestId);
    } else {
      const header = upRes.headers["x-amzn-query-error"];
      xml = queryErrorXml(status, text, Array.isArray(header) ? header[0] : header, requestId);
    }
    const payload = Buffer.from(xml, "utf8");
    res.writeHead(status, { "content-type": "text/xml", "content-length": payload.length, "x-amzn-requestid": requestId });
    res.end(payload);
  }
}
