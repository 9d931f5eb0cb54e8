/**
 * The jishi version the collector reports (package.json `version`). Imported as JSON, so that it is the same from
 * the sources (tsx, vitest) and from the bundle bin/jishi.mjs runs (esbuild copies the value in).
 */
import pkg from '../package.json' with { type: 'json' };

export const JISHI_VERSION: string = pkg.version;
