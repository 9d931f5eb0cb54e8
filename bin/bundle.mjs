/**
 * The bundle cache of the `jishi` command. bin/jishi.mjs runs plain JavaScript that esbuild bundled from the
 * TypeScript sources (cli/main.ts and everything it imports), not the sources through tsx: that saves tsx's
 * loader and the compilation at every start (about 20 MB of the agent's memory, see docs/operations.md).
 *
 * Where: node_modules/.cache/jishi/ (JISHI_BUNDLE_DIR moves it, relative to the project; it must stay inside the
 * project so that the bundle's imports of packages find node_modules). In it:
 *   b-<hash>/        one build: main.mjs, one chunk per lazily imported command, shared chunks, source maps;
 *                    named by the hash of its contents, written to a .tmp-* directory and renamed into place
 *   manifest.json    the current build and its inputs (every source file esbuild read, with size and mtime),
 *                    also written to a temporary file and renamed, so a reader never sees half of it
 * A start reads the manifest and stats the inputs (a few ms); when one changed (or is gone), it builds again
 * (~0.3 s) and replaces the manifest. Processes starting at once (the test suite spawns many) may each build: the
 * same sources give the same hash, so the first rename wins and the others use it; none reads a half-written file.
 * Builds that are neither current nor the previous one, nor younger than a minute, are removed after a build.
 *
 * Run as a script (`node bin/bundle.mjs`) it builds the cache unless it is up to date and prints the entry: the
 * Dockerfile does that at image build time, and so can an install whose directory the service cannot write.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root (bin/ is one level down). */
export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/** What is bundled, relative to ROOT. */
export const ENTRY = 'cli/main.ts';
/** Bumped when the build options below change in a way the inputs do not show. */
const FORMAT = 1;
const MANIFEST = 'manifest.json';
/** This file: a change to it (new build options) rebuilds too. */
const SELF = relative(ROOT, fileURLToPath(import.meta.url)).split(sep).join('/');
/**
 * Packages bundled in rather than imported from node_modules at run time (all others are): pure ES modules that
 * read no file next to their code, and whose module state (TypeBox's registries) no external package shares with
 * the code. @sinclair/typebox is ~250 small modules, each a module record of its own when imported: bundled, the
 * agent is ~5 MB smaller. Their files are inputs like the sources (an upgrade or `npm ci` rebuilds the bundle).
 */
const INLINED = ['@sinclair/typebox'];
/** A build another process may still be starting from is kept this long, ms. */
const KEEP_RECENT_MS = 60_000;
/** Inputs modified this close to the build's start may have changed under it: the build is used, not recorded. */
const SETTLE_MS = 100;

/** Why there is no bundle to run. `quiet`: a normal situation (the cache cannot be written), not worth a line. */
export class NoBundle extends Error {
  /** @param {string} message @param {{ quiet: boolean, cause?: unknown }} options */
  constructor(message, { quiet, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'NoBundle';
    this.quiet = quiet;
  }
}

/** The cache directory: JISHI_BUNDLE_DIR (relative to the project root) or node_modules/.cache/jishi. */
export function cacheDir(env = process.env) {
  return env.JISHI_BUNDLE_DIR ? resolve(ROOT, env.JISHI_BUNDLE_DIR) : join(ROOT, 'node_modules', '.cache', 'jishi');
}

/**
 * @typedef {object} Manifest
 * @property {number} format
 * @property {string} entry      the entry file, relative to the cache directory (`b-<hash>/main.mjs`)
 * @property {string} esbuild    the esbuild version that built it (information only)
 * @property {Array<[string, number, number]>} inputs   [path relative to ROOT, size, mtimeMs]
 */

/** @returns {Manifest | undefined} */
function readManifest(dir) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
    return m?.format === FORMAT && typeof m.entry === 'string' && Array.isArray(m.inputs) ? m : undefined;
  } catch {
    return undefined;
  }
}

function statOrUndefined(path) {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES...
  }
}

/** The entry of the current build when no input changed since it was made, else undefined. No writes. */
export function freshEntry(dir = cacheDir()) {
  const manifest = readManifest(dir);
  if (!manifest) return undefined;
  for (const [file, size, mtimeMs] of manifest.inputs) {
    const s = statOrUndefined(join(ROOT, file));
    if (!s || s.size !== size || s.mtimeMs !== mtimeMs) return undefined;
  }
  const entry = join(dir, manifest.entry);
  return statOrUndefined(entry)?.isFile() ? entry : undefined;
}

/**
 * Bundles ENTRY into a new build in `dir` and makes it current; resolves with its entry file.
 * @throws NoBundle quiet when the cache directory cannot be written; not quiet when esbuild is missing or fails.
 */
export async function build(dir = cacheDir()) {
  const scratch = join(dir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir, { recursive: true });
    mkdirSync(scratch);
  } catch (err) {
    throw new NoBundle(`the cache directory ${dir} cannot be written (${err.code ?? err.message})`, { quiet: true, cause: err });
  }
  try {
    let esbuild;
    try {
      esbuild = await import('esbuild');
    } catch (err) {
      throw new NoBundle(`esbuild cannot be loaded (${err.message})`, { quiet: false, cause: err });
    }
    const started = Date.now();
    let result;
    try {
      result = await esbuild.build({
        absWorkingDir: ROOT,
        entryPoints: [ENTRY],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        // Packages stay imports, resolved from node_modules at run time as from the sources (but INLINED).
        plugins: [externalPackages],
        // One chunk per lazily imported command (cli/main.ts imports them on use): the agent loads neither the
        // collector's code nor its packages.
        splitting: true,
        outdir: scratch,
        outExtension: { '.js': '.mjs' },
        sourcemap: 'linked',
        sourcesContent: false,
        // The compiler options that change esbuild's output, as tsconfig.json has them (not read: the image has none).
        tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
        metafile: true,
        write: false,
        logLevel: 'silent',
      });
    } catch (err) {
      await esbuild.stop();
      const first = err.errors?.[0];
      const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
      throw new NoBundle(`esbuild could not bundle ${ENTRY}: ${first ? `${where}${first.text}` : err.message}`, { quiet: false, cause: err });
    }
    // esbuild's service process would otherwise live as long as this one (the agent: months).
    await esbuild.stop();
    const files = result.outputFiles
      .map((f) => ({ rel: relative(scratch, f.path).split(sep).join('/'), contents: f.contents }))
      .sort((a, b) => (a.rel < b.rel ? -1 : 1));
    const hash = createHash('sha256');
    for (const f of files) hash.update(`${f.rel}\0`).update(f.contents).update('\0');
    const id = `b-${hash.digest('hex').slice(0, 16)}`;
    const entryOut = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === ENTRY)?.[0];
    if (entryOut === undefined) throw new NoBundle(`esbuild gave no output for ${ENTRY}`, { quiet: false });
    const entryRel = `${id}/${relative(scratch, resolve(ROOT, entryOut)).split(sep).join('/')}`;
    const final = join(dir, id);
    try {
      for (const f of files) {
        mkdirSync(dirname(join(scratch, f.rel)), { recursive: true });
        writeFileSync(join(scratch, f.rel), f.contents);
      }
      renameSync(scratch, final);
    } catch (err) {
      // Another process made the same build first (same contents, same name): use it.
      if (!statOrUndefined(join(dir, entryRel))?.isFile()) {
        throw new NoBundle(`the cache directory ${dir} cannot be written (${err.code ?? err.message})`, { quiet: true, cause: err });
      }
    }
    const previous = readManifest(dir);
    const inputs = [SELF, ...Object.keys(result.metafile.inputs)].map((file) => {
      const s = statOrUndefined(join(ROOT, file));
      return /** @type {[string, number, number]} */ ([file, s?.size ?? -1, s?.mtimeMs ?? -1]);
    });
    // A file saved while esbuild read the sources: this build may hold its old text, so it is not recorded (a file
    // dated in the future, e.g. unpacked from another machine's archive, was not saved now: it does not count).
    const now = Date.now();
    if (inputs.every(([, size, mtimeMs]) => size >= 0 && (mtimeMs < started - SETTLE_MS || mtimeMs > now + SETTLE_MS))) {
      /** @type {Manifest} */
      const manifest = { format: FORMAT, entry: entryRel, esbuild: esbuild.version, inputs };
      const tmp = join(dir, `.manifest-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        writeFileSync(tmp, `${JSON.stringify(manifest)}\n`);
        renameSync(tmp, join(dir, MANIFEST));
      } catch {
        rmSync(tmp, { force: true }); // the next start builds again
      }
    }
    prune(dir, new Set([id, previous?.entry.split('/')[0]]));
    return join(dir, entryRel);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** @type {import('esbuild').Plugin} Marks every bare import external, but those of INLINED packages. */
const externalPackages = {
  name: 'jishi-external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.kind === 'entry-point' || INLINED.some((p) => args.path === p || args.path.startsWith(`${p}/`))
        ? undefined
        : { path: args.path, external: true },
    );
  },
};

/** Removes old builds (but `keep` and the recent ones) and leftovers of interrupted builds. Never throws. */
function prune(dir, keep) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (keep.has(name) || name === MANIFEST) continue;
    const path = join(dir, name);
    const age = now - (statOrUndefined(path)?.mtimeMs ?? now);
    try {
      if (name.startsWith('b-') && age > KEEP_RECENT_MS) {
        // Renamed away first, so that no process finds it half removed.
        const trash = join(dir, `.trash-${process.pid}-${randomBytes(4).toString('hex')}`);
        renameSync(path, trash);
        rmSync(trash, { recursive: true, force: true });
      } else if (/^\.(tmp|trash|manifest)-/.test(name) && age > 10 * KEEP_RECENT_MS) {
        rmSync(path, { recursive: true, force: true });
      }
    } catch {
      // another process got there first, or it is in use (Windows): the next build tries again
    }
  }
}

/**
 * The bundle entry to run: the current build when up to date, else a new one.
 * @throws NoBundle when there is none (the caller runs the sources through tsx instead).
 */
export async function bundleEntry(dir = cacheDir()) {
  return freshEntry(dir) ?? (await build(dir));
}

// `node bin/bundle.mjs`: build the cache now (image build, read-only installs).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const fresh = freshEntry();
    const entry = fresh ?? (await build());
    process.stdout.write(`${fresh ? 'up to date' : 'built'}: ${relative(process.cwd(), entry) || entry}\n`);
  } catch (err) {
    process.stderr.write(`jishi: ${err.message}\n`);
    process.exitCode = 1;
  }
}
