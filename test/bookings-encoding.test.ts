/**
 * Bookings files in GBK (what Excel's plain "CSV" saves on Chinese Windows) and UTF-8: the decoder alone, and
 * POST /api/v1/bookings with the bytes of a real GBK file (test/fixtures/bookings-gbk.csv, made with
 * `iconv -f UTF-8 -t GB18030`).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { buildApp, type CollectorApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { fileNameHeader } from '../collector/routes/sharing.ts';
import { charsetOf, decodeCsvBytes } from '../collector/sharing/csv-decode.ts';
import { syncRegistryFromConfig } from '../collector/sharing/registry.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';

const GBK = readFileSync(new URL('./fixtures/bookings-gbk.csv', import.meta.url));
const HEADER = '仪器编号,开始时间,结束时间,使用人,使用单位,用户类型,收费（元）';

describe('decodeCsvBytes', () => {
  it('reads GBK bytes as GB18030 when they are not UTF-8', () => {
    const d = decodeCsvBytes(GBK);
    expect(d).toMatchObject({ encoding: 'gb18030', how: 'detected' });
    expect(d.text.split('\r\n')[0]).toBe(HEADER);
    expect(d.text).toContain('复旦大学化学系');
    expect(d.text).not.toContain('\uFFFD');
  });

  it('reads UTF-8 as UTF-8, with or without a BOM, and plain ASCII the same way', () => {
    const utf8 = Buffer.from(`${HEADER}\r\nSEM-1,2025/5/6 9:00,2025/5/6 11:30,张伟,复旦大学,校外,800\r\n`, 'utf8');
    expect(decodeCsvBytes(utf8)).toEqual({ text: utf8.toString('utf8'), encoding: 'utf-8', how: 'detected' });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
    expect(decodeCsvBytes(bom).text).toBe(utf8.toString('utf8'));
    expect(decodeCsvBytes(Buffer.from('instrument,start\r\n')).encoding).toBe('utf-8');
  });

  it('keeps a UTF-8 file with a stray bad byte as UTF-8 (the byte unreadable, the rest intact)', () => {
    const bytes = Buffer.concat([
      Buffer.from(`${HEADER}\r\nSEM-1,2025/5/6 9:00,2025/5/6 11:30,张伟`, 'utf8'),
      Buffer.from([0xff]),
      Buffer.from(',复旦大学,校外,800\r\n', 'utf8'),
    ]);
    const d = decodeCsvBytes(bytes);
    expect(d.encoding).toBe('utf-8');
    expect(d.text).toContain('张伟\uFFFD,复旦大学');
    expect(d.text.startsWith(HEADER)).toBe(true);
  });

  it('follows a charset the sender named, and refuses one it cannot read', () => {
    expect(decodeCsvBytes(GBK, 'GBK')).toMatchObject({ encoding: 'gb18030', how: 'named' });
    expect(decodeCsvBytes(GBK, 'gb2312').text.startsWith(HEADER)).toBe(true);
    // Named UTF-8 wins over detection: the GBK bytes become replacement characters, which the parser reports.
    expect(decodeCsvBytes(GBK, 'utf-8').text).toContain('\uFFFD');
    expect(() => decodeCsvBytes(GBK, 'big5')).toThrow(JishiError);
    expect(() => decodeCsvBytes(GBK, 'big5')).toThrow(/charset "big5" is not read here: send UTF-8 or GBK/);
  });

  it("reads X-File-Name as it is or in RFC 8187's UTF-8'' form (what the web console sends for a Chinese name)", () => {
    expect(fileNameHeader('bookings-2025.csv')).toBe('bookings-2025.csv');
    expect(fileNameHeader(`UTF-8''${encodeURIComponent('预约记录 2025.csv')}`)).toBe('预约记录 2025.csv');
    expect(fileNameHeader("utf-8''%E9%A2%84%ZZ.csv")).toBe("utf-8''%E9%A2%84%ZZ.csv");
    expect(fileNameHeader('  ')).toBeUndefined();
    expect(fileNameHeader(undefined)).toBeUndefined();
  });

  it('finds the charset parameter of a Content-Type', () => {
    expect(charsetOf('text/csv; charset=GBK')).toBe('GBK');
    expect(charsetOf('text/csv;charset="utf-8"; header=present')).toBe('utf-8');
    expect(charsetOf('text/csv')).toBeUndefined();
    expect(charsetOf(undefined)).toBeUndefined();
  });
});

describe('POST /api/v1/bookings with a GBK file', () => {
  const ADMIN = 'gbk-admin-token';
  const clock = new ManualClock(Date.parse('2026-01-10T12:00:00+08:00'));
  const store = openSqliteStore(':memory:');
  const config = collectorConfigFromObject(
    {
      admins: [{ id: 'asset-office', token_sha256: sha256Hex(ADMIN) }],
      instruments: [
        { id: 'SEM-1', name: '扫描电镜' },
        { id: 'XRD-2', name: 'X射线衍射仪' },
      ],
    },
    'gbk-test',
  );
  let app: CollectorApp;
  const post = (payload: Buffer, contentType: string) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { 'content-type': contentType, authorization: `Bearer ${ADMIN}`, 'x-file-name': 'bookings-gbk.csv' },
      payload,
    });

  beforeAll(() => {
    syncRegistryFromConfig(store.sharing, config.instruments, clock.now());
    const engine = new EngineRunner({ store: store.engine, params: () => config.defaultParams, timeZone: config.timeZone, clock, logger: silentLogger() });
    app = buildApp({ store, clock, engine, registry: config.instruments, sharing: { admins: config.admins } });
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  it('imports it as it is, says it was read as GB18030, and keeps the Chinese text', async () => {
    const res = await post(GBK, 'text/csv');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ inserted: 2, duplicates: 0, rejected: 0 });
    expect(body.warnings).toContainEqual(expect.objectContaining({ line: 1, message: expect.stringMatching(/GB18030/) }));
    const list = await app.inject({ url: '/api/v1/bookings?from=2025-01-01&to=2025-12-31&instrument=SEM-1' });
    expect(list.json().bookings).toEqual([
      expect.objectContaining({ user: '张伟', organisation: '复旦大学化学系', kind: 'external', fee_cny: 800, source: 'bookings-gbk.csv:2' }),
    ]);
  });

  it('takes the charset named in the Content-Type', async () => {
    const res = await post(GBK, 'text/csv; charset=gbk');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ inserted: 0, duplicates: 2, rejected: 0 });
  });

  it('answers 415 with a stable code for a charset it cannot read', async () => {
    const res = await post(GBK, 'text/csv; charset=big5');
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'JISHI_ERR_UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('big5') });
  });
});
