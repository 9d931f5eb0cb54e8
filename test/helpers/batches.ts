/** Ingest batches for the store, API and forwarder tests. */
import { WIRE_VERSION, type IngestBatch, type Sample } from '../../common/wire.ts';

/** The tests' start time; batches are sent at it unless told otherwise. */
export const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);

export interface BatchOptions {
  seq?: number;
  agentId?: string;
  sentAt?: number;
}

/** A wire batch: seq 1 from lab-pc-1, sent at T0, unless told otherwise. */
export function batch(batchId: string, samples: Sample[], options: BatchOptions = {}): IngestBatch {
  const { seq = 1, agentId = 'lab-pc-1', sentAt = T0 } = options;
  return { wire_version: WIRE_VERSION, agent_id: agentId, batch_id: batchId, seq, sent_at: sentAt, samples };
}
