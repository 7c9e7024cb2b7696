/**
 * `serve` answers each request in the protocol of its envelope: an ETag request the current
 * way, a uuid request the 2021 way. This publisher routes every call to the one for the
 * address's era; a protocol that is not configured (no Redis) accepts nothing.
 */
import type { Address, CellSetChange, Publisher } from "./publisher.ts";
import type { TaskFailed, TaskResult } from "../result/response.ts";
import type { StatusCode } from "./heartbeat.ts";

export class ProtocolRouter implements Publisher {
  private readonly byEra: { "2021": Publisher | null; current: Publisher | null };

  constructor(byEra: { "2021": Publisher | null; current: Publisher | null }) {
    this.byEra = byEra;
  }

  private of(to: Address): Publisher | null {
    return to.era === null ? null : this.byEra[to.era];
  }

  /** The publisher for this address; only called after `accepts` said yes. */
  private must(to: Address): Publisher {
    const p = this.of(to);
    if (!p) throw new Error(`no publisher for a ${to.era ?? "unknown"} request`);
    return p;
  }

  accepts(to: Address): boolean {
    return this.of(to)?.accepts(to) ?? false;
  }

  publish(to: Address, result: TaskResult): Promise<void> {
    return this.must(to).publish(to, result);
  }

  async alreadyAnswered(to: Address): Promise<boolean> {
    return (await this.of(to)?.alreadyAnswered?.(to)) ?? false;
  }

  async answerFromStore(to: Address): Promise<void> {
    await this.must(to).answerFromStore?.(to);
  }

  async status(to: Address, code: StatusCode, progressPercent?: number | null): Promise<void> {
    await this.of(to)?.status?.(to, code, progressPercent);
  }

  async saveCellSets(to: Address, change: CellSetChange): Promise<TaskFailed | null> {
    return (await this.of(to)?.saveCellSets?.(to, change)) ?? null;
  }
}
