/**
 * Writes the dashboards to dashboards/generated/<uid>.json (the files Grafana's provider loads) and removes
 * generated files of dashboards that no longer exist.
 *
 *   npm run dashboards            regenerate
 *   npm run dashboards -- --check exit 1 when the committed files differ from the builders (CI)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from './src/index.ts';

const GENERATED_DIR = fileURLToPath(new URL('./generated/', import.meta.url));

function main(check: boolean): number {
  const files = generatedFiles();
  mkdirSync(GENERATED_DIR, { recursive: true });
  const existing = readdirSync(GENERATED_DIR).filter((f) => f.endsWith('.json'));
  const stale = existing.filter((f) => !files.has(f));
  const changed = [...files].filter(([name, content]) => {
    try {
      return readFileSync(join(GENERATED_DIR, name), 'utf8') !== content;
    } catch {
      return true;
    }
  });
  if (check) {
    for (const [name] of changed) console.error(`dashboards/generated/${name} is out of date`);
    for (const name of stale) console.error(`dashboards/generated/${name} has no builder`);
    if (changed.length + stale.length === 0) {
      console.log(`dashboards/generated is up to date (${files.size} dashboards)`);
      return 0;
    }
    console.error('run: npm run dashboards');
    return 1;
  }
  for (const [name, content] of changed) {
    writeFileSync(join(GENERATED_DIR, name), content);
    console.log(`wrote dashboards/generated/${name}`);
  }
  for (const name of stale) {
    rmSync(join(GENERATED_DIR, name));
    console.log(`removed dashboards/generated/${name}`);
  }
  if (changed.length + stale.length === 0) console.log(`dashboards/generated is up to date (${files.size} dashboards)`);
  return 0;
}

process.exitCode = main(process.argv.includes('--check'));
