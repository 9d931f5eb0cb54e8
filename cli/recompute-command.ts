/** `jishi recompute`: rebuilds states, sessions and daily rollups from the stored readings. */
import { localDay, dayStart } from '../collector/engine/time-zone.ts';
import { acquireLock } from '../collector/store/lock.ts';
import { openCollectorStore, selectInstruments, type StoreCommandOptions } from './store-command.ts';

export interface RecomputeOptions extends StoreCommandOptions {
  from?: string;
  to?: string;
  instrument?: string[];
}

export async function runRecompute(opts: RecomputeOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const opened = await openCollectorStore(opts);
  const release = acquireLock(opened.config.dataDir, 'jishi recompute');
  try {
    const tz = opened.config.timeZone;
    const ids = selectInstruments(opened.store, opts.instrument);
    const fromTs = opts.from === undefined ? null : dayStart(opts.from, tz);
    out.write(`recomputing ${ids.length} instrument${ids.length === 1 ? '' : 's'} from ${opts.from ?? 'the first reading'} (time zone ${tz})\n`);
    if (opts.to !== undefined) {
      out.write(`note: states after ${opts.to} are rebuilt as well, since every state carries into the next\n`);
    }
    for (const id of ids) {
      const started = Date.now();
      let lastReport = started;
      const result = opened.engine.recompute(id, fromTs, (done, ts) => {
        if (Date.now() - lastReport >= 2000) {
          lastReport = Date.now();
          out.write(`  ${id}: ${done.toLocaleString('en')} readings, at ${localDay(ts, tz)}\n`);
        }
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      out.write(`  ${id}: ${result.samples.toLocaleString('en')} readings replayed from ${result.fromDay ?? 'the first reading'} in ${seconds} s\n`);
    }
    out.write('done\n');
  } finally {
    release();
    opened.close();
  }
}
