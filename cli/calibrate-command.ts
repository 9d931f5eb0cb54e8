/** `jishi calibrate <instrument>`: proposes off/active thresholds from the distribution of observed power. */
import { calibrate, renderHistogram } from '../collector/engine/calibrate.ts';
import { addDays, dayStart, localDay } from '../collector/engine/time-zone.ts';
import { openCollectorStore, selectInstruments, type StoreCommandOptions } from './store-command.ts';

export interface CalibrateCommandOptions extends StoreCommandOptions {
  from?: string;
  to?: string;
  bins?: number;
  json?: boolean;
}

export async function runCalibrate(instrument: string, opts: CalibrateCommandOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const opened = await openCollectorStore(opts);
  try {
    const tz = opened.config.timeZone;
    selectInstruments(opened.store, [instrument]);
    const toDay = opts.to ?? localDay(Date.now(), tz);
    const fromDay = opts.from ?? addDays(toDay, -29);
    const from = dayStart(fromDay, tz);
    const to = dayStart(addDays(toDay, 1), tz);
    const powers: number[] = [];
    for (const s of opened.store.engine.samples(instrument, from - 1)) {
      if (s.ts >= to) break;
      if (s.power_w !== undefined && s.error === undefined) powers.push(s.power_w);
    }
    const result = calibrate(powers, opts.bins !== undefined ? { bins: opts.bins } : {});
    if (opts.json) {
      out.write(`${JSON.stringify({ instrument, from: fromDay, to: toDay, ...result }, null, 2)}\n`);
      return;
    }
    const current = opened.config.instruments.find((i) => i.id === instrument)?.params ?? opened.config.defaultParams;
    out.write(`${instrument}: ${result.samples.toLocaleString('en')} power readings from ${fromDay} to ${toDay}\n\n`);
    if (result.histogram.length > 0) out.write(`${renderHistogram(result)}\n\n`);
    out.write(`${result.reason}\n`);
    out.write(`current thresholds: off_w ${current.off_w}, active_w ${current.active_w}\n`);
    if (result.proposal) {
      out.write(
        `\nproposed (collector config, instruments entry "${instrument}"):\n    off_w: ${result.proposal.off_w}\n    active_w: ${result.proposal.active_w}\n` +
          'then run `jishi recompute` (with the collector stopped) to rebuild states with them.\n',
      );
    }
  } finally {
    opened.close();
  }
}
