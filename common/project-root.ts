/**
 * Where the project's files are at run time: the directory of the package.json whose name is "jishi", found by
 * walking up from this module. It works from the sources (common/project-root.ts, under tsx or vitest) and from
 * the bundle bin/jishi.mjs runs (node_modules/.cache/jishi/b-.../, where `import.meta.url` is no longer next to
 * the sources), so files read at run time (the web console's) are located through it, not through
 * `new URL('..', import.meta.url)`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package name that marks the project root. */
export const PACKAGE_NAME = 'jishi';

/**
 * The first directory at or above `from` (a directory path) holding jishi's package.json.
 * @throws Error naming `from` when there is none up to the file system root.
 */
export function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (packageName(join(dir, 'package.json')) === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json named "${PACKAGE_NAME}" at or above ${from}`);
  }
}

function packageName(file: string): unknown {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
}

let root: string | undefined;

/** The project root of the running code (computed once). */
export function projectRoot(): string {
  root ??= findProjectRoot(dirname(fileURLToPath(import.meta.url)));
  return root;
}
