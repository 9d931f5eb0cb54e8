import { describe, expect, it } from 'vitest';
import { BOOKING_COLUMNS, formatBookingErrors, parseBookingTime, parseBookingsCsv, readCsvRecords } from '../collector/sharing/bookings-csv.ts';

const TZ = 'Asia/Shanghai';
const known = new Set(['XRD-01', 'NMR-02']);
const opts = { file: 'bookings.csv', timeZone: TZ, knownInstruments: known };

/** Lines joined with CRLF, like an Excel export; a UTF-8 BOM in front. */
function excel(lines: string[]): string {
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

describe('parseBookingsCsv: an Excel export with Chinese headers', () => {
  const text = excel([
    /* 1 */ '仪器编号,开始时间,结束时间,使用人,单位,类型,用途,收费（元）,样品数',
    /* 2 */ 'XRD-01,2025-03-04 09:00,2025-03-04 11:30,张三,北京大学,校外,"物相分析, 粉末",1200,5',
    /* 3 */ 'XRD-01,2025-03-04T13:00,2025-03-04T14:00:30,李四,化学学院,校内,"多行',
    /* 4 */ '用途说明",,',
    /* 5 */ 'NMR-02,2025-03-05T01:00:00Z,2025-03-05T11:00:00+08:00,Wang,ACME Ltd,external,,"1,500.50",',
    /* 6 */ 'XRD-01,2025-13-01 09:00,2025-13-01 10:00,王五,物理学院,internal,,,',
    /* 7 */ 'XRD-01,2025-03-06 10:00,2025-03-06 09:00,赵六,物理学院,internal,,,',
    /* 8 */ 'XRD-01,2025-03-06 10:00,2025-03-06 11:00,赵六,物理学院,visitor,,,',
    /* 9 */ 'SEM-99,2025-03-06 10:00,2025-03-06 11:00,赵六,物理学院,内部,,,',
    /* 10 */ 'XRD-01,2025-03-07 10:00,2025-03-07 11:00,赵六,物理学院,外部,,-5,',
    /* 11 */ 'XRD-01,2025-03-07 12:00,2025-03-07 13:00,,物理学院,校内,,,',
    /* 12 */ 'XRD-01,2025-03-04 09:00,2025-03-04 11:30, 张三 ,北京大学,校外,again,,',
    /* 13 */ '',
    /* 14 */ 'NMR-02,2025/3/8 9:00,2025/3/8 17:30,Li,Tsinghua,校内,,,3',
    /* 15 */ ',,,,,,,,',
  ]);
  const result = parseBookingsCsv(text, opts);

  it('returns every good row with its line and UTC times (Asia/Shanghai is UTC+8)', () => {
    expect(result.bookings).toEqual([
      {
        line: 2,
        instrument_id: 'XRD-01',
        start: Date.UTC(2025, 2, 4, 1, 0), // 09:00 local - 8 h
        end: Date.UTC(2025, 2, 4, 3, 30),
        user: '张三',
        organisation: '北京大学',
        kind: 'external',
        purpose: '物相分析, 粉末',
        fee_cny: 1200,
        samples: 5,
      },
      {
        line: 3, // the row starts on line 3; its purpose runs on to line 4
        instrument_id: 'XRD-01',
        start: Date.UTC(2025, 2, 4, 5, 0),
        end: Date.UTC(2025, 2, 4, 6, 0, 30),
        user: '李四',
        organisation: '化学学院',
        kind: 'internal',
        purpose: '多行\n用途说明',
      },
      {
        line: 5,
        instrument_id: 'NMR-02',
        start: Date.UTC(2025, 2, 5, 1, 0), // Z
        end: Date.UTC(2025, 2, 5, 3, 0), // 11:00+08:00 = 03:00Z
        user: 'Wang',
        organisation: 'ACME Ltd',
        kind: 'external',
        fee_cny: 1500.5,
      },
      {
        line: 14,
        instrument_id: 'NMR-02',
        start: Date.UTC(2025, 2, 8, 1, 0), // Excel's 2025/3/8 9:00
        end: Date.UTC(2025, 2, 8, 9, 30),
        user: 'Li',
        organisation: 'Tsinghua',
        kind: 'internal',
        samples: 3,
      },
    ]);
  });

  it('reports every bad row by line, column and value', () => {
    expect(result.errors).toEqual([
      { line: 6, column: 'start', value: '2025-13-01 09:00', message: 'no such date-time: month 13 (1-12)' },
      { line: 6, column: 'end', value: '2025-13-01 10:00', message: 'no such date-time: month 13 (1-12)' },
      { line: 7, column: 'end', value: '2025-03-06 09:00', message: 'the end is not after the start (2025-03-06 10:00)' },
      { line: 8, column: 'kind', value: 'visitor', message: 'unknown user kind: use internal (校内) or external (校外)' },
      { line: 9, column: 'instrument', value: 'SEM-99', message: 'unknown instrument: no instrument with this id in the registry' },
      { line: 10, column: 'fee', value: '-5', message: 'a fee cannot be negative' },
      { line: 11, column: 'user', message: 'is required but empty' },
      { line: 12, message: 'duplicate of line 2 (same instrument, start, end and user): line 2 is kept' },
    ]);
    expect(result.warnings).toEqual([]);
  });

  it('formats the errors for people', () => {
    const text = formatBookingErrors('bookings.csv', result.errors);
    expect(text.split('\n')[0]).toBe('bookings.csv: 7 bad rows:');
    expect(text).toContain('\n  - line 6, start: no such date-time: month 13 (1-12) (got "2025-13-01 09:00")');
    expect(text).toContain('\n  - line 11, user: is required but empty\n');
    expect(text).toContain('\n  - line 12: duplicate of line 2');
    expect(text.split('\n')).toHaveLength(1 + 8);
  });
});

describe('parseBookingsCsv', () => {
  const header = 'instrument,start,end,user,organisation,kind';

  it('reports an end before start given with offsets', () => {
    // 2025-03-05T03:00:00+08:00 is 2025-03-04T19:00Z, before the start 2025-03-05T01:00Z
    const r = parseBookingsCsv(`${header}\nNMR-02,2025-03-05T01:00:00Z,2025-03-05T03:00:00+08:00,Wang,ACME,external\n`, opts);
    expect(r.bookings).toEqual([]);
    expect(r.errors).toEqual([{ line: 2, column: 'end', value: '2025-03-05T03:00:00+08:00', message: 'the end is not after the start (2025-03-05T01:00:00Z)' }]);
  });

  it('takes English headers in any order and case, with aliases', () => {
    const r = parseBookingsCsv('Kind,END,Organization,Start_Time,user,Instrument,Fee CNY,Samples\nexternal,2025-01-01 10:00,X,2025-01-01 08:00,u,XRD-01,¥80 元,0\n', opts);
    expect(r.errors).toEqual([]);
    expect(r.bookings).toEqual([
      { line: 2, instrument_id: 'XRD-01', start: Date.UTC(2025, 0, 1, 0), end: Date.UTC(2025, 0, 1, 2), user: 'u', organisation: 'X', kind: 'external', fee_cny: 80, samples: 0 },
    ]);
  });

  it('ignores unknown columns with a warning, but a likely typo is an error', () => {
    const r = parseBookingsCsv(`${header},备注,fees\nXRD-01,2025-01-01 08:00,2025-01-01 09:00,u,o,校内,note,30\n`, opts);
    expect(r.bookings).toHaveLength(1);
    expect(r.bookings[0]!.fee_cny).toBeUndefined();
    expect(r.warnings).toEqual([{ line: 1, header: true, column: '备注', message: 'unknown column: ignored' }]);
    expect(r.errors).toEqual([{ line: 1, header: true, column: 'fees', message: 'unknown column, ignored: did you mean "fee"? Its values are not imported' }]);
    expect(formatBookingErrors('b.csv', r.errors)).toBe('b.csv: 1 header problem:\n  - line 1, fees: unknown column, ignored: did you mean "fee"? Its values are not imported');
  });

  it('imports nothing when a required column is missing', () => {
    const r = parseBookingsCsv('instrument,start,end,user,kind\nXRD-01,2025-01-01 08:00,2025-01-01 09:00,u,校内\n', opts);
    expect(r.bookings).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ line: 1, column: 'organisation' });
    expect(r.errors[0]!.message).toMatch(/required column "organisation" is missing .*单位/);
  });

  it('reports an empty file and a second column for the same field', () => {
    expect(parseBookingsCsv('\uFEFF\r\n', opts).errors).toEqual([{ line: 1, message: 'the file is empty: a header row naming the columns is required' }]);
    const r = parseBookingsCsv(`${header},单位\nXRD-01,2025-01-01 08:00,2025-01-01 09:00,u,first,校内,second\n`, opts);
    expect(r.bookings[0]!.organisation).toBe('first');
    expect(r.errors).toEqual([{ line: 1, header: true, column: 'organisation', value: '单位', message: 'a second "organisation" column (after "organisation"): only the first is read' }]);
  });

  it('rejects a row with more fields than the header (an unquoted comma)', () => {
    const r = parseBookingsCsv(`${header},fee\nXRD-01,2025-01-01 08:00,2025-01-01 09:00,u,o,校内,1,200\nXRD-01,2025-01-01 10:00,2025-01-01 11:00,u,o,校内,1,,\n`, opts);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ line: 2, message: 'the row has 8 fields, the header 7 (a comma in a value that is not quoted?)' });
    expect(r.bookings.map((b) => b.line)).toEqual([3]); // trailing empty fields are fine
  });

  it('recovers after a quoted field that is never closed', () => {
    const r = parseBookingsCsv(`${header},purpose\nXRD-01,2025-01-01 08:00,2025-01-01 09:00,u,o,校内,"oops\nXRD-01,2025-01-02 08:00,2025-01-02 09:00,u,o,校内,fine\n`, opts);
    expect(r.errors).toEqual([{ line: 2, message: 'a quoted field is never closed (a missing `"`): this line is skipped' }]);
    expect(r.bookings.map((b) => [b.line, b.purpose])).toEqual([[3, 'fine']]);
  });

  it('rejects bookings longer than 31 days, a date without a time and a start more than a year ahead', () => {
    const now = Date.UTC(2025, 5, 1);
    const r = parseBookingsCsv(
      [
        header,
        'XRD-01,2025-01-01 08:00,2025-02-01 08:00,u,o,校内', // 31 days exactly: fine
        'XRD-01,2025-01-01 08:00,2025-02-01 08:01,u,o,校内',
        'XRD-01,2025-01-01,2025-01-02,u,o,校内',
        'XRD-01,2052-01-01 08:00,2052-01-01 09:00,u,o,校内',
        'XRD-01,2026-05-01 08:00,2026-05-01 09:00,u,o,校内', // a reservation 11 months ahead: fine
        'XRD-01,2025-02-29 08:00,2025-02-29 09:00,u,o,校内',
        'XRD-01,2025-01-01 8:00,2025-01-01 24:00,u,o,校内',
        'XRD-01,2025-01-01 08:00,2025-02-01 08:00,u,o,校内,', // line 2 again, with a trailing empty field
      ].join('\n'),
      { ...opts, now },
    );
    expect(r.errors.map((e) => [e.line, e.column, e.message])).toEqual([
      [3, 'end', 'the booking is longer than 31 days (from 2025-01-01 08:00): a typo?'],
      [4, 'start', `a date without a time: use YYYY-MM-DD HH:MM[:SS] (local time, ${TZ}) or ISO 8601 with an offset (2025-03-04T09:00+08:00)`],
      [4, 'end', `a date without a time: use YYYY-MM-DD HH:MM[:SS] (local time, ${TZ}) or ISO 8601 with an offset (2025-03-04T09:00+08:00)`],
      [5, 'start', 'more than a year in the future: a typo in the year?'],
      [7, 'start', 'no such date-time: day 29 of 2025-02'],
      [7, 'end', 'no such date-time: day 29 of 2025-02'],
      [9, undefined, 'duplicate of line 2 (same instrument, start, end and user): line 2 is kept'],
    ]);
    expect(r.bookings.map((b) => b.line)).toEqual([2, 6, 8]);
    // 24:00 is the next midnight: 2025-01-02 00:00 local = 2025-01-01 16:00Z
    expect(r.bookings[2]).toMatchObject({ start: Date.UTC(2025, 0, 1, 0), end: Date.UTC(2025, 0, 1, 16) });
  });

  it('accepts every instrument without a registry, and checks fee and samples', () => {
    const r = parseBookingsCsv(`${header},fee,samples\nANY,2025-01-01 08:00,2025-01-01 09:00,u,o,external,abc,1.5\nANY,2025-01-01 08:00,2025-01-01 09:00,v,o,external,"1,234.5",-1\n`, {
      file: 'b.csv',
      timeZone: TZ,
    });
    expect(r.errors).toEqual([
      { line: 2, column: 'fee', value: 'abc', message: 'not a number (CNY, e.g. 1200 or 1200.50)' },
      { line: 2, column: 'samples', value: '1.5', message: 'not a whole number of samples' },
      { line: 3, column: 'samples', value: '-1', message: 'the number of samples cannot be negative' },
    ]);
  });

  it('says what to do when the header has unreadable characters (an encoding other than UTF-8 and GBK)', () => {
    const r = parseBookingsCsv('\uFFFD\uFFFD\uFFFD\uFFFD,start,end,user,organisation,kind\n', opts);
    expect(r.errors.map((e) => e.message)).toEqual([
      'the header has characters that are neither UTF-8 nor GBK (a Big5 or Shift-JIS file?): save the file as "CSV UTF-8" and import again',
      expect.stringContaining('required column "instrument" is missing'),
    ]);
  });

  it('skips the Excel sep=, line', () => {
    const r = parseBookingsCsv(`sep=,\r\n${header}\r\nXRD-01,2025-01-01 08:00,2025-01-01 09:00,u,o,校内\r\n`, opts);
    expect(r.errors).toEqual([]);
    expect(r.bookings.map((b) => b.line)).toEqual([3]);
  });

  it('throws for an unknown time zone', () => {
    expect(() => parseBookingsCsv(header, { file: 'b.csv', timeZone: 'Mars/Olympus' })).toThrow(RangeError);
  });
});

describe('parseBookingTime', () => {
  it('reads local and offset forms', () => {
    expect(parseBookingTime('2025-03-04 09:00', TZ)).toBe(Date.UTC(2025, 2, 4, 1, 0));
    expect(parseBookingTime('2025-03-04T09:00:15', TZ)).toBe(Date.UTC(2025, 2, 4, 1, 0, 15));
    expect(parseBookingTime('2025-03-04T09:00:15.250+0800', TZ)).toBe(Date.UTC(2025, 2, 4, 1, 0, 15, 250));
    expect(parseBookingTime('2025-03-04T09:00-05', TZ)).toBe(Date.UTC(2025, 2, 4, 14, 0));
    expect(parseBookingTime('2025-03-04 09:00', 'UTC')).toBe(Date.UTC(2025, 2, 4, 9, 0));
    expect(parseBookingTime('2025-03-04 25:00', TZ)).toEqual({ error: 'no such date-time: hour 25 (0-23)' });
    expect(parseBookingTime('04.03.2025 09:00', TZ)).toMatchObject({ error: expect.stringMatching(/^not a date-time/) });
  });

  it('handles daylight-saving changes: a skipped time is an error, a repeated one the earlier instant', () => {
    // Europe/Berlin 2025-03-30: 02:00 CET jumps to 03:00 CEST; 2025-10-26: 03:00 CEST falls back to 02:00 CET.
    expect(parseBookingTime('2025-03-30 02:30', 'Europe/Berlin')).toEqual({
      error: 'this local time does not exist in Europe/Berlin (skipped by a daylight-saving change)',
    });
    expect(parseBookingTime('2025-03-30 03:30', 'Europe/Berlin')).toBe(Date.UTC(2025, 2, 30, 1, 30));
    expect(parseBookingTime('2025-10-26 02:30', 'Europe/Berlin')).toBe(Date.UTC(2025, 9, 26, 0, 30));
    expect(parseBookingTime('2025-10-26 03:30', 'Europe/Berlin')).toBe(Date.UTC(2025, 9, 26, 2, 30));
  });
});

describe('readCsvRecords', () => {
  it('keeps quotes, commas and newlines inside quoted fields and counts lines', () => {
    const { records, errors } = readCsvRecords('a,"b ""q"", c"\r\n"x\r\ny",z\rlast,"",  "sp"\n');
    expect(errors).toEqual([]);
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b "q", c'] },
      { line: 2, fields: ['x\ny', 'z'] },
      { line: 4, fields: ['last', '', 'sp'] },
    ]);
  });
});

describe('BOOKING_COLUMNS', () => {
  it('documents every column with its aliases', () => {
    expect(BOOKING_COLUMNS.map((c) => c.name)).toEqual(['instrument', 'start', 'end', 'user', 'organisation', 'kind', 'purpose', 'fee', 'samples']);
    expect(BOOKING_COLUMNS.filter((c) => c.required).map((c) => c.name)).toEqual(['instrument', 'start', 'end', 'user', 'organisation', 'kind']);
    for (const c of BOOKING_COLUMNS) expect(c.meaning.length).toBeGreaterThan(10);
    expect(BOOKING_COLUMNS.find((c) => c.name === 'kind')!.aliases).toContain('校内/校外');
  });
});
