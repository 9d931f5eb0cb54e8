#!/usr/bin/env node
// Entry point of the `jishi` CLI. A clone runs without a build step: the first start bundles the TypeScript sources
// into plain JavaScript with esbuild (node_modules/.cache/jishi/, ~0.3 s), later starts run that bundle and rebuild
// it by themselves when a source changed (bin/bundle.mjs). Without a bundle (JISHI_NO_BUNDLE=1, a cache directory
// that cannot be written, esbuild missing or failing) the sources run through tsx's loader, as a fallback.
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { bundleEntry, NoBundle } from './bundle.mjs';

// `jishi agent` runs for months beside an instrument. V8 doubles its young generation (up to 2 x 16 MB) as the agent
// keeps allocating short-lived objects; the growth factor 1 keeps it at its starting 2 x 1 MB. Measured on Node 20
// (50 meters at 1 Hz): ~5 MB less resident memory on average, up to ~20 MB less when the young generation would
// have reached its maximum, for ~2 ms more GC a second (+0.2 % of a core). Set here, before anything is loaded
// (loading grows it too), and at run time because --max-semi-space-size only counts on node's own command line,
// which users write (systemd unit, Windows service). Not when they tuned it themselves (any semi-space flag in
// NODE_OPTIONS or node's options). Newer V8 versions may hold the factor at 2 or more: then this changes nothing.
// V8's --optimize-for-size (made for low-memory devices: smaller heap growth steps, earlier flushing of unused
// bytecode) saves another ~5 MB of the agent's ~80 MB at no CPU cost measurable here (docs/benchmarks.md). Not for
// the collector or the demo: they keep V8's default trade of memory for speed.
if (process.argv[2] === 'agent') {
  const tuned = `${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`;
  if (!/semi[-_]space/.test(tuned)) setFlagsFromString('--semi-space-growth-factor=1');
  if (!/optimize[-_]for[-_]size/.test(tuned)) setFlagsFromString('--optimize-for-size');
}

async function loadCli() {
  if (process.env.JISHI_NO_BUNDLE !== '1') {
    try {
      const entry = await bundleEntry();
      // With JISHI_DEBUG, stack traces name the .ts files and lines (the bundle's source maps). Not by default: node
      // then also reads the maps some packages ship (exceljs: 170 of them, +7 MB for the collector).
      if (process.env.JISHI_DEBUG) process.setSourceMapsEnabled(true);
      return await import(pathToFileURL(entry).href);
    } catch (err) {
      if (!(err instanceof NoBundle)) throw err;
      if (!err.quiet) process.stderr.write(`jishi: ${err.message}; running the sources through tsx\n`);
      else if (process.env.JISHI_DEBUG) process.stderr.write(`jishi: no bundle: ${err.message}; running the sources through tsx\n`);
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

const { main } = await loadCli();
await main(process.argv);
