import { describe, expect, it } from 'vitest';
import {
  addDays,
  createCalendar,
  dayOfWeek,
  daysBetween,
  daysInYear,
  eachDay,
  isValidDay,
  uncoveredYears,
  validateCalendarOptions,
} from '../collector/engine/calendar.ts';
import { CN_HOLIDAYS } from '../collector/engine/holidays-cn.ts';

const cal = createCalendar();

describe('day helpers', () => {
  it('adds days across month, year and leap-day boundaries', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2025-02-28', 1)).toBe('2025-03-01');
    expect(addDays('2025-01-01', -1)).toBe('2024-12-31');
    expect(addDays('2025-12-31', 365)).toBe('2026-12-31');
  });

  it('gives the day of the week, 0 = Sunday', () => {
    expect(dayOfWeek('2025-10-01')).toBe(3); // Wednesday
    expect(dayOfWeek('2025-09-28')).toBe(0); // Sunday
    expect(dayOfWeek('2025-10-11')).toBe(6); // Saturday
    expect(dayOfWeek('2024-02-29')).toBe(4); // Thursday
  });

  it('lists and counts days', () => {
    expect(eachDay('2024-12-30', '2025-01-02')).toEqual(['2024-12-30', '2024-12-31', '2025-01-01', '2025-01-02']);
    expect(eachDay('2025-01-02', '2025-01-01')).toEqual([]);
    expect(eachDay('2024-01-01', '2024-12-31')).toHaveLength(366);
    expect(daysBetween('2025-01-01', '2026-01-01')).toBe(365);
    expect(daysInYear(2024)).toBe(366);
    expect(daysInYear(2025)).toBe(365);
    expect(daysInYear(2000)).toBe(366);
    expect(daysInYear(2100)).toBe(365);
  });

  it('rejects anything but a real YYYY-MM-DD date', () => {
    expect(isValidDay('2025-02-29')).toBe(false);
    expect(isValidDay('2025-2-3')).toBe(false);
    expect(isValidDay('2025-13-01')).toBe(false);
    expect(isValidDay('2024-02-29')).toBe(true);
    expect(() => addDays('2025-02-30', 1)).toThrow(RangeError);
    expect(() => cal.isWorkingDay('20251001')).toThrow(/YYYY-MM-DD/);
  });
});

describe('Chinese working-day calendar', () => {
  it('2025 National Day and Mid-Autumn: Oct 1-8 off, Sun Sep 28 and Sat Oct 11 worked', () => {
    for (const d of eachDay('2025-10-01', '2025-10-08')) expect(cal.isWorkingDay(d), d).toBe(false);
    expect(cal.dayInfo('2025-10-06')).toEqual({
      day: '2025-10-06',
      working: false,
      reason: 'holiday',
      holiday: 'National Day and Mid-Autumn Festival',
      holiday_zh: '国庆节、中秋节',
    });
    expect(cal.dayInfo('2025-09-28')).toMatchObject({ working: true, reason: 'adjusted_working_day' });
    expect(cal.dayInfo('2025-10-11')).toMatchObject({ working: true, reason: 'adjusted_working_day' });
    expect(cal.dayInfo('2025-10-09')).toMatchObject({ working: true, reason: 'weekday' });
    expect(cal.dayInfo('2025-10-12')).toMatchObject({ working: false, reason: 'weekend' });
    expect(cal.dayInfo('2025-09-27')).toMatchObject({ working: false, reason: 'weekend' });
  });

  it('2025 Spring Festival: Jan 28 - Feb 4 off, Sun Jan 26 and Sat Feb 8 worked', () => {
    for (const d of eachDay('2025-01-28', '2025-02-04')) expect(cal.isWorkingDay(d), d).toBe(false);
    expect(cal.isWorkingDay('2025-01-26')).toBe(true);
    expect(cal.isWorkingDay('2025-02-08')).toBe(true);
    expect(cal.isWorkingDay('2025-01-27')).toBe(true);
    expect(cal.isWorkingDay('2025-02-09')).toBe(false);
    // Sun 26 W, Mon 27 W, 28 Jan - 4 Feb off, Wed 5 - Sat 8 W.
    expect(cal.workingDays('2025-01-26', '2025-02-08')).toBe(6);
  });

  it('counts weeks with adjusted working days (调休)', () => {
    // Mon Sep 22 - Sun Sep 28 2025: five weekdays plus the worked Sunday.
    expect(cal.workingDays('2025-09-22', '2025-09-28')).toBe(6);
    // Mon Sep 29 - Sun Oct 5: only Sep 29 and 30.
    expect(cal.workingDays('2025-09-29', '2025-10-05')).toBe(2);
    // Mon Oct 6 - Sun Oct 12: Oct 9, 10 and the worked Saturday Oct 11.
    expect(cal.workingDays('2025-10-06', '2025-10-12')).toBe(3);
    // 2024 Labour Day: Sun Apr 28 worked, May 1-5 off, Sat May 11 worked.
    expect(cal.workingDays('2024-04-28', '2024-05-12')).toBe(1 + 2 + 0 + 5 + 1);
  });

  it('gives the official number of working days per year', () => {
    // Working days = days - weekend days - statutory holidays, as the adjustments only move days:
    // 2023: 365 - 105 - 11 = 249; 2024: 366 - 104 - 11 = 251; 2025: 365 - 104 - 13 = 248; 2026: 365 - 104 - 13 = 248.
    expect(cal.workingDays('2023-01-01', '2023-12-31')).toBe(249);
    expect(cal.workingDays('2024-01-01', '2024-12-31')).toBe(251);
    expect(cal.workingDays('2025-01-01', '2025-12-31')).toBe(248);
    expect(cal.workingDays('2026-01-01', '2026-12-31')).toBe(248);
  });

  it('opening seconds: 7 h on a working day by default, 0 on other days; configurable', () => {
    expect(cal.openingSecondsPerDay).toBe(7 * 3600);
    expect(cal.openingSeconds('2025-10-09')).toBe(25_200);
    expect(cal.openingSeconds('2025-10-11')).toBe(25_200);
    expect(cal.openingSeconds('2025-10-01')).toBe(0);
    expect(cal.openingSeconds('2025-10-12')).toBe(0);
    const long = createCalendar({ openingHours: { start: '08:00', end: '18:00' } });
    expect(long.openingSeconds('2025-10-09')).toBe(36_000);
    const shifts = createCalendar({ openingHours: [{ start: '00:00', end: '08:00' }, { start: '16:00', end: '24:00' }] });
    expect(shifts.openingSecondsPerDay).toBe(16 * 3600);
  });

  it('falls back to Monday-Friday outside the data and says so', () => {
    expect(cal.coversYear(2025)).toBe(true);
    expect(cal.coversYear(2022)).toBe(false);
    expect(cal.coversYear(2027)).toBe(false);
    // 2027 starts on a Friday: 52 weeks and one Friday.
    expect(cal.workingDays('2027-01-01', '2027-12-31')).toBe(261);
    expect(cal.dayInfo('2027-10-01')).toMatchObject({ working: true, reason: 'weekday' });
    expect(uncoveredYears(cal, '2026-12-01', '2028-01-31')).toEqual([2027, 2028]);
    expect(uncoveredYears(cal, '2025-01-01', '2025-12-31')).toEqual([]);
  });

  it('takes institution days: extra working days win, then extra days off, then the data', () => {
    const c = createCalendar({ extraDaysOff: ['2025-07-14', '2025-07-15'], extraWorkingDays: ['2025-10-08', '2025-07-19'] });
    expect(c.dayInfo('2025-07-14')).toMatchObject({ working: false, reason: 'extra_day_off' });
    expect(c.dayInfo('2025-10-08')).toMatchObject({ working: true, reason: 'extra_working_day' });
    expect(c.dayInfo('2025-07-19')).toMatchObject({ working: true, reason: 'extra_working_day' });
    expect(c.workingDays('2025-01-01', '2025-12-31')).toBe(248 - 2 + 2);
  });

  it('uses other holiday data when given', () => {
    const c = createCalendar({
      data: [{ year: 2030, source: 'test', holidays: [{ name: 'X', name_zh: 'X', days_off: ['2030-01-07'], working_days: ['2030-01-12'] }] }],
    });
    expect(c.coversYear(2030)).toBe(true);
    expect(c.coversYear(2025)).toBe(false);
    expect(c.workingDays('2030-01-07', '2030-01-13')).toBe(5);
    expect(c.isWorkingDay('2025-10-01')).toBe(true);
  });

  it('reports every problem with the options at once', () => {
    const options = {
      extraDaysOff: ['2025-02-30', '2025-07-14'],
      extraWorkingDays: ['2025-07-14'],
      openingHours: [{ start: '8:00', end: '12:00' }, { start: '14:00', end: '13:00' }],
    };
    const errors = validateCalendarOptions(options);
    expect(errors).toHaveLength(4);
    expect(errors.join('\n')).toMatch(/extraDaysOff\[0\].*"2025-02-30"/);
    expect(errors.join('\n')).toMatch(/2025-07-14 is in both/);
    expect(errors.join('\n')).toMatch(/openingHours\[0\]\.start.*"8:00"/);
    expect(errors.join('\n')).toMatch(/openingHours\[1\]: end 13:00 must be after start 14:00/);
    expect(() => createCalendar(options)).toThrow(/invalid calendar options/);
    expect(validateCalendarOptions({ openingHours: [{ start: '08:00', end: '12:00' }, { start: '11:00', end: '13:00' }] })).toEqual([
      'openingHours ranges overlap',
    ]);
    expect(validateCalendarOptions()).toEqual([]);
  });
});

describe('holiday data (every year)', () => {
  // Statutory holiday days (全国年节及纪念日放假办法): 11 until 2024, 13 from 2025.
  const statutory: Record<number, number> = { 2023: 11, 2024: 11, 2025: 13, 2026: 13 };

  it('covers 2023 to 2026, each year naming its notice', () => {
    expect(CN_HOLIDAYS.map((y) => y.year)).toEqual([2023, 2024, 2025, 2026]);
    for (const y of CN_HOLIDAYS) expect(y.source).toBe(`国务院办公厅关于${y.year}年部分节假日安排的通知`);
  });

  for (const y of CN_HOLIDAYS) {
    it(`${y.year}: valid, contiguous blocks; worked days are weekend days; adjustments only move days`, () => {
      const seen = new Set<string>();
      let weekdaysOff = 0;
      let weekendsWorked = 0;
      for (const h of y.holidays) {
        expect(h.days_off.length, h.name).toBeGreaterThan(0);
        h.days_off.forEach((d, i) => {
          expect(isValidDay(d), d).toBe(true);
          if (i > 0) expect(d, `${h.name} days_off contiguous`).toBe(addDays(h.days_off[i - 1] ?? '', 1));
          // A block belongs to its notice's year; only New Year's Day may start in the December before.
          if (!d.startsWith(`${y.year}-`)) expect(d.startsWith(`${y.year - 1}-12-`) && h.name_zh === '元旦', d).toBe(true);
          const dow = dayOfWeek(d);
          if (d.startsWith(`${y.year}-`) && dow >= 1 && dow <= 5) weekdaysOff++;
        });
        for (const d of h.working_days) {
          expect(isValidDay(d) && d.startsWith(`${y.year}-`), d).toBe(true);
          expect([0, 6], `${d} is a weekend day`).toContain(dayOfWeek(d));
          weekendsWorked++;
        }
        for (const d of [...h.days_off, ...h.working_days]) {
          expect(seen.has(d), `${d} listed once`).toBe(false);
          seen.add(d);
        }
      }
      expect(weekdaysOff - weekendsWorked).toBe(statutory[y.year]);
    });
  }
});
