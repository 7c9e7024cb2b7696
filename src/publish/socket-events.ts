/**
 * socket.io events through Redis (reference spec §2.9.3): the worker is not a socket.io server;
 * it publishes to the Redis channel that the API's socket.io servers subscribe to through their
 * Redis adapter, and they broadcast the event by name to every connected client (no rooms).
 *
 * Framing is the maintained `@socket.io/redis-emitter` (msgpack `[uid, packet, opts]` on
 * `socket.io#/#`), which interoperates with the API's `socket.io-redis` 6.0.1 adapter on
 * socket.io 4.7 (tested in test/integration/current.test.ts). The emitter publishes without
 * returning the Redis reply, so the client handed to it records each publish: `emit` then
 * resolves once Redis accepted the message, or rejects (and the caller can retry the request).
 */
import { Emitter } from "@socket.io/redis-emitter";
import { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { RedisConfig } from "../config.ts";


export interface SocketEvents {
  /** Publishes one event; resolves with the number of socket.io servers that received it. */
  emit(event: string, payload: unknown): Promise<number>;
  close(): Promise<void>;
}

/** The part of a Redis client the emitter uses, recording the reply of each publish. */
class RecordingPublisher {
  private readonly redis: Redis;
  last: Promise<number> | null = null;
  constructor(redis: Redis) {
    this.redis = redis;
  }
  publish(channel: string, message: Buffer | string): Promise<number> {
    const reply = this.redis.publish(channel, message);
    reply.catch(() => {}); // observed by emit(); never an unhandled rejection
    this.last = reply;
    return reply;
  }
}

export class RedisSocketEvents implements SocketEvents {
  private readonly redis: Redis;
  private readonly publisher: RecordingPublisher;
  private readonly emitter: Emitter;

  constructor(config: RedisConfig, log: Logger) {
    this.redis = new Redis(config.url, {
      ...(config.tls ? { tls: { rejectUnauthorized: config.rejectUnauthorized } } : {}),
      // a publish waits through a short outage, then fails (the request goes back to the queue)
      maxRetriesPerRequest: 3,
      connectTimeout: 10_000,
      retryStrategy: (times) => Math.min(200 * 2 ** times, 5_000),
    });
    let lastError = "";
    this.redis.on("error", (err: Error) => {
      if (err.message !== lastError) log("redis connection error", { error: err.message });
      lastError = err.message;
    });
    this.redis.on("ready", () => {
      lastError = "";
      log("redis connected");
    });
    this.publisher = new RecordingPublisher(this.redis);
    this.emitter = new Emitter(this.publisher);
  }

  async emit(event: string, payload: unknown): Promise<number> {
    this.publisher.last = null;
    this.emitter.emit(event, payload);
    const reply = this.publisher.last as Promise<number> | null;
    if (!reply) throw new Error("the socket.io emitter did not publish");
    return reply;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
