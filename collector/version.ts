/** The jishi version the collector reports (package.json `version`). */
import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

export const JISHI_VERSION: string = pkg.version;
