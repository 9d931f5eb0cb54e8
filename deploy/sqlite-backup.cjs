// Online backup of the collector's store (SQLite in WAL mode) while the collector runs: SQLite's backup API
// copies a consistent snapshot page by page, so the copy never mixes two transactions, whatever the collector
// writes meanwhile. Copying jishi.sqlite with cp/rsync/volume snapshots while it runs is NOT safe: the latest
// transactions live in jishi.sqlite-wal until a checkpoint.
//
//   node - STORE COPY < deploy/sqlite-backup.cjs          (inside the collector container: deploy/backup.sh)
//
// Run with the working directory where better-sqlite3 is installed (/app in the image, a clone's root).
// The copy (one file, no -wal) is checked (PRAGMA quick_check) before the command reports success. Exit code 0 ok, 1 failed.
'use strict';
const { existsSync, renameSync, rmSync } = require('node:fs');
const Database = require('better-sqlite3');

async function main() {
  const [store, copy] = process.argv.slice(process.argv[1] === '-' ? 2 : 1);
  if (!store || !copy) throw new Error('usage: node - STORE COPY < sqlite-backup.cjs');
  if (!existsSync(store)) throw new Error(`no store at ${store}`);
  const partial = `${copy}.partial`;
  rmSync(partial, { force: true });
  const source = new Database(store, { readonly: true, fileMustExist: true });
  try {
    source.pragma('busy_timeout = 10000');
    await source.backup(partial);
  } finally {
    source.close();
  }
  // The copy is a single self-contained file: rollback journal instead of WAL (the collector switches it back
  // to WAL when it opens a restored store).
  const check = new Database(partial, { fileMustExist: true });
  let result;
  try {
    check.pragma('journal_mode = DELETE');
    result = check.pragma('quick_check', { simple: true });
  } finally {
    check.close();
  }
  if (result !== 'ok') throw new Error(`the copy failed its integrity check: ${result}`);
  renameSync(partial, copy);
  process.stdout.write(`backed up ${store} -> ${copy}\n`);
}

main().catch((err) => {
  process.stderr.write(`store backup failed: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
