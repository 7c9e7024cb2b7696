/**
 * Where an experiment's cell sets are kept, behind one interface: DynamoDB (the 2021 source:
 * table `experiments-{env}`, attribute `cellSets`), or a JSON file (local, or synced from S3).
 * `null` means "none stored": the experiment keeps its default classes.
 */
import { GetItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { existsSync } from "node:fs";
import { ErrorCode, WorkerError } from "../../result/errors.ts";
import { parseCellSetsFile, readCellSetsFile, type CellClass } from "./cell-sets.ts";

export interface CellSetStore {
  load(experimentId: string): Promise<CellClass[] | null>;
}

export class DynamoCellSetStore implements CellSetStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  constructor(client: DynamoDBClient, table: string) {
    this.client = client;
    this.table = table;
  }

  async load(experimentId: string): Promise<CellClass[] | null> {
    const out = await this.client.send(new GetItemCommand({
      TableName: this.table,
      Key: { experimentId: { S: experimentId } },
      ProjectionExpression: "cellSets",
    }));
    if (!out.Item) return null;
    const { cellSets } = unmarshall(out.Item) as { cellSets?: unknown };
    if (cellSets === undefined || (Array.isArray(cellSets) && cellSets.length === 0)) return null;
    try {
      return parseCellSetsFile(cellSets);
    } catch {
      throw new WorkerError(ErrorCode.DATA_INVALID, `The cell sets stored for experiment ${experimentId} (DynamoDB ${this.table}) are not valid Cellenics cell sets.`);
    }
  }
}

/** A cell-sets JSON file whose path may change (e.g. re-synced from S3); absent file → null. */
export class FileCellSetStore implements CellSetStore {
  private readonly path: () => string | null;
  constructor(path: () => string | null) {
    this.path = path;
  }

  async load(): Promise<CellClass[] | null> {
    const p = this.path();
    if (!p || !existsSync(p)) return null;
    return readCellSetsFile(p);
  }
}
