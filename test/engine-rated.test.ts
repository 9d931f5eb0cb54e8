import { describe, expect, it } from 'vitest';
import { createCalendar, eachDay } from '../collector/engine/calendar.ts';
import {
  DEFAULT_RATED_HOURS_PER_YEAR,
  RATED_HOURS_SPECIAL,
  inService,
  openingHoursUtilization,
  ratedHours,
  sharingRate,
  utilizationRate,
} from '../collector/engine/rated.ts';

const year2025 = { fromDay: '2025-01-01', toDayInclusive: '2025-12-31', ratedHoursPerYear: DEFAULT_RATED_HOURS_PER_YEAR };

describe('ratedHours', () => {
  it('is the yearly figure for a full year, 1,400 h by default', () => {
    expect(DEFAULT_RATED_HOURS_PER_YEAR).toBe(1400);
    const r = ratedHours(year2025);
    expect(r.rated_h).toBe(1400);
    expect(r.days_in_period).toBe(365);
    expect(r.days_in_service).toBe(365);
    expect(r.by_year).toEqual([{ year: 2025, days_in_year: 365, days_in_service: 365, rated_h: 1400 }]);
    expect(ratedHours({ ...year2025, ratedHoursPerYear: RATED_HOURS_SPECIAL }).rated_h).toBe(800);
  });

  it('is pro-rated for an instrument commissioned on 2025-07-01: 1400 x 184 / 365', () => {
    const r = ratedHours({ ...year2025, commissioned: '2025-07-01' });
    expect(r.days_in_service).toBe(184); // Jul 31 + Aug 31 + Sep 30 + Oct 31 + Nov 30 + Dec 31
    expect(r.rated_h).toBeCloseTo((1400 * 184) / 365, 9);
    expect(r.rated_h).toBeCloseTo(705.7534, 4);
  });

  it('counts the retirement day as in service', () => {
    const r = ratedHours({ ...year2025, retired: '2025-03-31' });
    expect(r.days_in_service).toBe(90); // Jan 31 + Feb 28 + Mar 31
    expect(r.rated_h).toBeCloseTo((1400 * 90) / 365, 9);
    const april = ratedHours({ ...year2025, commissioned: '2025-04-01', retired: '2025-04-30' });
    expect(april.days_in_service).toBe(30);
    expect(april.rated_h).toBeCloseTo((1400 * 30) / 365, 9);
  });

  it('divides by 366 in a leap year', () => {
    expect(ratedHours({ fromDay: '2024-01-01', toDayInclusive: '2024-12-31', ratedHoursPerYear: 1400 }).rated_h).toBe(1400);
    const h1 = ratedHours({ fromDay: '2024-01-01', toDayInclusive: '2024-06-30', ratedHoursPerYear: 1400 });
    expect(h1.days_in_service).toBe(182); // 31 + 29 + 31 + 30 + 31 + 30
    expect(h1.rated_h).toBeCloseTo((1400 * 182) / 366, 9);
  });

  it('splits a period across years at each year its own rate', () => {
    const r = ratedHours({ fromDay: '2024-07-01', toDayInclusive: '2025-06-30', ratedHoursPerYear: 1400 });
    expect(r.days_in_period).toBe(365);
    expect(r.by_year.map((y) => [y.year, y.days_in_service, y.days_in_year])).toEqual([
      [2024, 184, 366],
      [2025, 181, 365],
    ]);
    expect(r.rated_h).toBeCloseTo((1400 * 184) / 366 + (1400 * 181) / 365, 9);
  });

  it('is 0 outside the service period', () => {
    expect(ratedHours({ ...year2025, commissioned: '2026-03-01' })).toMatchObject({ rated_h: 0, days_in_service: 0, days_in_period: 365 });
    expect(ratedHours({ ...year2025, retired: '2024-12-31' })).toMatchObject({ rated_h: 0, days_in_service: 0 });
    expect(ratedHours({ ...year2025, commissioned: '2025-12-31' }).rated_h).toBeCloseTo(1400 / 365, 9);
  });

  it('rejects bad input with the value quoted', () => {
    expect(() => ratedHours({ ...year2025, ratedHoursPerYear: -1 })).toThrow(/ratedHoursPerYear.*-1/);
    expect(() => ratedHours({ ...year2025, ratedHoursPerYear: Number.NaN })).toThrow(RangeError);
    expect(() => ratedHours({ ...year2025, fromDay: '2025-1-1' })).toThrow(/fromDay.*"2025-1-1"/);
    expect(() => ratedHours({ ...year2025, toDayInclusive: '2024-12-31' })).toThrow(/before fromDay/);
    expect(() => ratedHours({ ...year2025, commissioned: '2025-06-01', retired: '2025-05-31' })).toThrow(/retired.*before commissioned/);
  });

  it('inService is inclusive at both ends', () => {
    const s = { commissioned: '2025-07-01', retired: '2025-07-31' };
    expect(inService('2025-06-30', s)).toBe(false);
    expect(inService('2025-07-01', s)).toBe(true);
    expect(inService('2025-07-31', s)).toBe(true);
    expect(inService('2025-08-01', s)).toBe(false);
    expect(inService('1999-01-01', {})).toBe(true);
  });
});

describe('rates', () => {
  it('utilization = effective / rated, null without rated hours', () => {
    // 2025 national averages: 1,599 effective hours against the 1,400 h rated.
    expect(utilizationRate(1599, 1400)).toBeCloseTo(1.142142857, 6);
    expect(utilizationRate(700, 1400)).toBe(0.5);
    expect(utilizationRate(0, 1400)).toBe(0);
    expect(utilizationRate(10, 0)).toBeNull();
  });

  it('sharing = external / effective, null without effective hours', () => {
    expect(sharingRate(273, 1599)).toBeCloseTo(0.170731707, 6);
    expect(sharingRate(240, 1440)).toBeCloseTo(1 / 6, 9);
    expect(sharingRate(0, 100)).toBe(0);
    expect(sharingRate(0, 0)).toBeNull();
  });
});

describe('openingHoursUtilization', () => {
  const calendar = createCalendar();
  const H = 3600;

  it('divides effective time on working days by their opening hours; other days are reported beside', () => {
    // Mon Sep 22 - Sun Sep 28 2025: 6 working days (Sunday 28 is worked), Saturday 27 is not.
    const days = eachDay('2025-09-22', '2025-09-28').map((day) => ({ day, effective_s: day === '2025-09-27' ? 2 * H : 3.5 * H }));
    const u = openingHoursUtilization({ days, calendar, fromDay: '2025-09-22', toDayInclusive: '2025-09-28' });
    expect(u).toEqual({
      working_days: 6,
      working_days_with_data: 6,
      opening_h: 42,
      effective_h: 21,
      effective_other_days_h: 2,
      rate: 0.5,
      uncovered_years: [],
    });
  });

  it('counts working days without a rollup as 0 and says how many had data; ignores days outside the period', () => {
    const days = [
      { day: '2025-09-22', effective_s: 7 * H },
      { day: '2025-09-23', effective_s: 7 * H },
      { day: '2025-09-21', effective_s: 5 * H }, // before the period
    ];
    const u = openingHoursUtilization({ days, calendar, fromDay: '2025-09-22', toDayInclusive: '2025-09-26' });
    expect(u.working_days).toBe(5);
    expect(u.working_days_with_data).toBe(2);
    expect(u.effective_h).toBe(14);
    expect(u.effective_other_days_h).toBe(0);
    expect(u.rate).toBeCloseTo(14 / 35, 12);
  });

  it('exceeds 1 when an instrument runs beyond opening hours, and counts only days in service', () => {
    const days = eachDay('2025-10-06', '2025-10-12').map((day) => ({ day, effective_s: 14 * H }));
    // Oct 6-8 are holidays, Oct 9, 10 and the worked Saturday 11 are working days; commissioned on Oct 10.
    const u = openingHoursUtilization({ days, calendar, fromDay: '2025-10-06', toDayInclusive: '2025-10-12', commissioned: '2025-10-10' });
    expect(u.working_days).toBe(2);
    expect(u.opening_h).toBe(14);
    expect(u.effective_h).toBe(28);
    expect(u.rate).toBe(2);
    expect(u.effective_other_days_h).toBe(5 * 14);
  });

  it('is null without opening hours and names years without holiday data', () => {
    const u = openingHoursUtilization({ days: [], calendar, fromDay: '2025-10-01', toDayInclusive: '2025-10-08' });
    expect(u.working_days).toBe(0);
    expect(u.rate).toBeNull();
    const later = openingHoursUtilization({ days: [], calendar, fromDay: '2027-01-01', toDayInclusive: '2027-01-31' });
    expect(later.uncovered_years).toEqual([2027]);
    expect(later.rate).toBe(0);
  });
});
