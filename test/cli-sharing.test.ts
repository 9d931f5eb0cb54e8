/**
 * `jishi bookings import` and `jishi export annual` as real processes on a collector data directory.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { bookingsWorkbook } from './helpers/bookings-workbook.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'jishi-cli-sharing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function jishi(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const config = join(dir, 'collector.yaml');
writeFileSync(
  config,
  [
    `data_dir: ${join(dir, 'data')}`,
    'instruments:',
    '  - { id: SEM-1, name: 扫描电镜, original_value_cny: 1200000 }',
    '  - { id: XRD-2, name: X射线衍射仪, original_value_cny: 300000, commissioned: 2025-07-01 }',
  ].join('\n'),
);

describe('jishi bookings import / jishi export annual', () => {
  it('imports the good rows, lists the bad ones by line, and exits 1; a second import adds nothing', () => {
    const missing = jishi('bookings', 'import', join(dir, 'none.csv'), '--config', config);
    expect(missing.code).not.toBe(0);
    // An existing (empty) store, as a collector that ran once leaves it.
    mkdirSync(join(dir, 'data'));
    openSqliteStore(join(dir, 'data', 'jishi.sqlite')).close();
    const csv = join(dir, 'bookings-2025.csv');
    writeFileSync(
      csv,
      [
        'instrument,start,end,user,organisation,kind',
        'SEM-1,2025-03-04 09:00,2025-03-04 10:00,覃明,外校大学,external',
        'SEM-1,2025-03-04 11:00,2025-03-04 10:00,李华,材料学院,internal',
        'XRD-2,2025-08-01 09:00,2025-08-01 12:00,王强,材料学院,校内',
        'GHOST,2025-08-01 09:00,2025-08-01 12:00,王强,材料学院,internal',
      ].join('\n'),
    );
    const first = jishi('bookings', 'import', csv, '--config', config);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toMatch(/bookings-2025\.csv: 2 bad rows/);
    expect(first.stderr).toMatch(/line 3, end: /);
    expect(first.stderr).toMatch(/line 5, instrument: .*GHOST/);
    expect(first.stdout).toContain('bookings-2025.csv: 2 booking(s) imported, 0 already there, 2 bad row(s) left out');
    const strict = jishi('bookings', 'import', csv, '--config', config, '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('nothing imported (--strict)');
    const again = jishi('bookings', 'import', csv, '--config', config);
    expect(again.stdout).toContain('0 booking(s) imported, 2 already there');
  });

  it('imports a GBK file (Excel "CSV" on Chinese Windows) as it is, and says how it read it', () => {
    const gbk = join(dir, 'bookings-gbk.csv');
    writeFileSync(gbk, readFileSync(new URL('./fixtures/bookings-gbk.csv', import.meta.url)));
    const r = jishi('bookings', 'import', gbk, '--config', config);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('bookings-gbk.csv: not UTF-8, read as GBK (GB18030)');
    expect(r.stdout).toContain('bookings-gbk.csv: 2 booking(s) imported, 0 already there');
    const store = openSqliteStore(join(dir, 'data', 'jishi.sqlite'));
    try {
      const users = store.sharing.bookings(undefined, Date.parse('2025-01-01T00:00:00+08:00'), Date.parse('2026-01-01T00:00:00+08:00')).map((b) => `${b.user}@${b.organisation}`);
      expect(users).toEqual(expect.arrayContaining(['张伟@复旦大学化学系', '刘洋@材料学院']));
    } finally {
      store.close();
    }
  });

  it('imports an Excel workbook (.xlsx): the same bookings as the GBK file are found already there', async () => {
    const xlsx = join(dir, 'bookings.xlsx');
    writeFileSync(xlsx, await bookingsWorkbook(['SEM-1', 'XRD-2']));
    const r = jishi('bookings', 'import', xlsx, '--config', config);
    expect(r.code).toBe(1); // its NOPE-9 row
    expect(r.stdout).toContain('bookings.xlsx: read sheet "预约记录" of the workbook');
    expect(r.stdout).toContain('bookings.xlsx: 0 booking(s) imported, 2 already there, 1 bad row(s) left out (listed above)');
    expect(r.stderr).toMatch(/line 5, instrument: .*NOPE-9/);
  });

  it('checks a file with --dry-run: says what an import would do and stores nothing', () => {
    const count = (): number => {
      const store = openSqliteStore(join(dir, 'data', 'jishi.sqlite'));
      try {
        return store.sharing.bookings(undefined, Date.parse('2025-01-01T00:00:00+08:00'), Date.parse('2026-01-01T00:00:00+08:00')).length;
      } finally {
        store.close();
      }
    };
    const before = count();
    const again = jishi('bookings', 'import', join(dir, 'bookings-2025.csv'), '--config', config, '--dry-run');
    expect(again.code).toBe(1); // its two bad rows
    expect(again.stdout).toContain('bookings-2025.csv: 0 booking(s) would be imported, 2 already there, 2 bad row(s) would be left out (listed above); nothing stored (--dry-run)');
    const fresh = join(dir, 'bookings-new.csv');
    writeFileSync(fresh, 'instrument,start,end,user,organisation,kind\nSEM-1,2025-11-03 09:00,2025-11-03 10:00,周杰,物理学院,internal\nSEM-1,2025-03-04 09:00,2025-03-04 10:00,覃明,外校大学,external\n');
    const dry = jishi('bookings', 'import', fresh, '--config', config, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('bookings-new.csv: 1 booking(s) would be imported, 1 already there; nothing stored (--dry-run)');
    expect(count()).toBe(before);
  });

  it('exports the year as XLSX and as three CSV files, every instrument shown', async () => {
    const xlsx = join(dir, '2025.xlsx');
    const out = jishi('export', 'annual', '--config', config, '--year', '2025', '--out', xlsx);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`wrote ${xlsx}`);
    expect(out.stdout).toMatch(/2 instrument\(s\), 0 session\(s\)/);
    expect(out.stdout).toMatch(/no data in 2025: SEM-1, XRD-2/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsx);
    const ids: unknown[] = [];
    wb.getWorksheet('年度汇总')!.eachRow((row) => ids.push(row.getCell(1).value));
    expect(ids).toEqual(expect.arrayContaining(['SEM-1', 'XRD-2', '合计']));
    const csv = join(dir, '2025.csv');
    expect(jishi('export', 'annual', '--config', config, '--year', '2025', '--format', 'csv', '--out', csv).code).toBe(0);
    for (const f of ['2025.csv', '2025-sessions.csv', '2025-mismatches.csv']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readFileSync(join(dir, '2025.csv'), 'utf8')).toContain('XRD-2');
    const bad = jishi('export', 'annual', '--config', config, '--year', '2025', '--format', 'pdf', '--out', join(dir, 'x.pdf'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--format must be one of xlsx, csv, html, json');
  });
});

describe('jishi token with a collector config', () => {
  it('adds, lists and revokes agent, admin and viewer tokens in the file, keeping its comments', () => {
    const file = join(dir, 'tokens.yaml');
    writeFileSync(file, '# the lab collector\nlisten: { port: 8080 }  # keep me\nagents:\n  - id: lab-pc-1\n    token_sha256: ' + 'ab'.repeat(32) + '\n');
    const admin = jishi('token', 'asset-office', '--admin', '--config', file);
    expect(admin.code, admin.stderr).toBe(0);
    const token = /Bearer (jishi_[A-Za-z0-9_-]+)/.exec(admin.stdout)![1]!;
    expect(jishi('token', 'dean', '--viewer', '--config', file).code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# the lab collector');
    expect(text).toContain('# keep me');
    const list = jishi('token', '--list', '--config', file);
    expect(list.stdout).toMatch(/agent\s+lab-pc-1/);
    expect(list.stdout).toMatch(/admin\s+asset-office/);
    expect(list.stdout).toMatch(/viewer\s+dean/);
    // The file is still a valid collector config, with the admin's hash.
    const check = jishi('collector', '--config', file, '--check');
    expect(check.code, check.stderr).toBe(0);
    expect(text).toContain(createHash('sha256').update(token).digest('hex'));
    expect(jishi('token', 'asset-office', '--admin', '--config', file).stderr).toContain('already has asset-office');
    const revoke = jishi('token', 'lab-pc-1', '--revoke', '--config', file);
    expect(revoke.stdout).toContain('removed agent lab-pc-1');
    expect(jishi('token', '--list', '--config', file).stdout).not.toContain('lab-pc-1');
    expect(jishi('token', 'nobody', '--revoke', '--config', file).stderr).toContain('no agent, admin or viewer "nobody"');
  });
});
