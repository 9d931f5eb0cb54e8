/**
 * A hand-built annual assessment report for 2025 (Asia/Shanghai), with the magnitudes of the published national
 * averages (DOMAIN.md: 1,599 h effective, 273 h external per instrument). Four instruments:
 * - GX-2015-0012 SEM: a normal full year, ~1,600 h effective, ~270 h external; its English name has a comma
 *   and double quotes (CSV quoting).
 * - GX-2025-0031 LC-MS: commissioned 2025-07-01 (partial year, rated hours pro-rated, no registered rated
 *   hours: the default 1,400 h applies), coverage 86 % (below the 90 % warning line).
 * - GX-2019-0107 confocal microscope: no reading all year (no_data), one booking whose time is unknown.
 * - GX-2012-0048 XRD: under its rated hours (44 %), original value below the 500,000 CNY threshold.
 *
 * The session list is a sample (six sessions, one crossing midnight), not one entry per counted session; each
 * session's attribution adds up to its length. Mismatches: one of each kind. Totals are computed from the rows
 * the way the report defines them (sums; rates from the sums; coverage weighted by days in service).
 *
 * `annualFixture()` returns a fresh deep copy: tests may change it.
 */

import type { AnnualReport, AnnualRow, AttributedSession, Mismatch } from '../../collector/sharing/types.ts';

/** ms of a Shanghai wall time `YYYY-MM-DD HH:MM` (UTC+8, no DST). */
export function shanghai(wall: string): number {
  const ms = Date.parse(`${wall.replace(' ', 'T')}:00Z`);
  if (Number.isNaN(ms)) throw new RangeError(`bad wall time ${wall}`);
  return ms - 8 * 3_600_000;
}

type Figures = Omit<AnnualRow, 'id' | 'asset' | 'in_scope' | 'from' | 'to' | 'partial' | 'no_data' | 'utilization_rate' | 'sharing_rate'>;

function row(base: Omit<AnnualRow, keyof Figures | 'utilization_rate' | 'sharing_rate'>, f: Figures): AnnualRow {
  return {
    ...base,
    ...f,
    utilization_rate: f.rated_h > 0 ? f.effective_h / f.rated_h : null,
    sharing_rate: f.effective_h > 0 ? f.external_h / f.effective_h : null,
  };
}

const ROWS: AnnualRow[] = [
  row(
    {
      id: 'GX-2015-0012',
      asset: {
        name: '场发射扫描电子显微镜',
        name_en: 'Field emission SEM, "Sigma 300"',
        model: 'Sigma 300',
        category_code: '03040101',
        manufacturer: '卡尔蔡司（ZEISS）',
        country: '德国',
        original_value_cny: 3_280_000,
        commissioned: '2015-09-01',
        owner_unit: '材料科学与工程学院',
        lab: '电子显微分析实验室',
        location: '材料楼 B105',
        contact: '王丽 wang.li@example.edu.cn',
        funding_source: '中央高校改善基本办学条件专项',
        shared: true,
        asset_status: '在用',
        rated_hours: 1400,
        agent: 'pc-sem-01',
      },
      in_scope: true,
      from: '2025-01-01',
      to: '2025-12-31',
      partial: false,
      no_data: false,
    },
    {
      effective_h: 1612.4,
      active_h: 1188.7,
      powered_on_h: 3950.2,
      external_h: 274.5,
      internal_h: 1290.3,
      unattributed_h: 47.6,
      rated_h: 1400,
      sessions: 486,
      coverage: 0.973,
      energy_kwh: 5210.8,
      booked_h: 1650,
      no_show_h: 38.5,
      bookings: 512,
      service_income_cny: 186_400,
      trained_users: 42,
    },
  ),
  row(
    {
      id: 'GX-2025-0031',
      asset: {
        name: '液相色谱-质谱联用仪',
        name_en: 'LC-MS/MS',
        model: 'Xevo TQ-XS',
        category_code: '03030801',
        manufacturer: '沃特世（Waters）',
        country: '美国',
        original_value_cny: 4_150_000,
        commissioned: '2025-07-01',
        owner_unit: '化学与分子工程学院',
        lab: '分析测试中心',
        location: '化学楼 A210',
        contact: '陈明 chen.ming@example.edu.cn',
        funding_source: '学科建设经费',
        shared: true,
        asset_status: '在用',
        agent: 'pc-lcms-01',
      },
      in_scope: true,
      from: '2025-07-01',
      to: '2025-12-31',
      partial: true,
      no_data: false,
    },
    {
      effective_h: 812.3,
      active_h: 655.8,
      powered_on_h: 2104.6,
      external_h: 96,
      internal_h: 640.1,
      unattributed_h: 76.2,
      // 1,400 h x 184 days in service / 365.
      rated_h: (1400 * 184) / 365,
      sessions: 203,
      coverage: 0.862,
      energy_kwh: 3120.4,
      booked_h: 790.5,
      no_show_h: 21,
      bookings: 240,
      service_income_cny: 98_000,
      trained_users: 15,
    },
  ),
  row(
    {
      id: 'GX-2019-0107',
      asset: {
        name: '激光扫描共聚焦显微镜',
        name_en: 'Confocal laser scanning microscope',
        model: 'LSM 980',
        category_code: '03040104',
        manufacturer: '卡尔蔡司（ZEISS）',
        country: '德国',
        original_value_cny: 2_650_000,
        commissioned: '2019-11-15',
        owner_unit: '生命科学学院',
        lab: '细胞成像平台',
        location: '生命楼 310',
        contact: '李娜 li.na@example.edu.cn',
        funding_source: '“双一流”建设专项',
        shared: true,
        asset_status: '在用',
        rated_hours: 1400,
      },
      in_scope: true,
      from: '2025-01-01',
      to: '2025-12-31',
      partial: false,
      no_data: true,
    },
    {
      effective_h: 0,
      active_h: 0,
      powered_on_h: 0,
      external_h: 0,
      internal_h: 0,
      unattributed_h: 0,
      rated_h: 1400,
      sessions: 0,
      coverage: 0,
      energy_kwh: 0,
      booked_h: 3,
      no_show_h: 0,
      bookings: 1,
      service_income_cny: null,
      trained_users: null,
    },
  ),
  row(
    {
      id: 'GX-2012-0048',
      asset: {
        name: 'X 射线衍射仪',
        name_en: 'X-ray diffractometer',
        model: 'D8 ADVANCE',
        category_code: '03040301',
        manufacturer: '布鲁克（Bruker）',
        country: '德国',
        original_value_cny: 460_000,
        commissioned: '2012-05-20',
        owner_unit: '材料科学与工程学院',
        lab: '结构表征实验室',
        location: '材料楼 B012',
        contact: '赵强 zhao.qiang@example.edu.cn',
        funding_source: '211 工程三期',
        shared: true,
        asset_status: '在用',
        rated_hours: 1400,
        agent: 'pc-xrd-01',
      },
      in_scope: false,
      from: '2025-01-01',
      to: '2025-12-31',
      partial: false,
      no_data: false,
    },
    {
      effective_h: 620.5,
      active_h: 402.3,
      powered_on_h: 1810,
      external_h: 35,
      internal_h: 540.2,
      unattributed_h: 45.3,
      rated_h: 1400,
      sessions: 311,
      coverage: 0.951,
      energy_kwh: 1290.7,
      booked_h: 655,
      no_show_h: 42,
      bookings: 330,
      service_income_cny: 12_600,
      trained_users: 8,
    },
  ),
];

/** Days in service in 2025, for the coverage weights. */
const DAYS_IN_SERVICE = [365, 184, 365, 365];

function totals(rows: AnnualRow[]): AnnualReport['totals'] {
  const sum = (f: (r: AnnualRow) => number): number => rows.reduce((s, r) => s + f(r), 0);
  const sumNullable = (f: (r: AnnualRow) => number | null): number | null => {
    const values = rows.map(f).filter((v): v is number => v !== null);
    return values.length > 0 ? values.reduce((s, v) => s + v, 0) : null;
  };
  const effective_h = sum((r) => r.effective_h);
  const external_h = sum((r) => r.external_h);
  const rated_h = sum((r) => r.rated_h);
  const days = DAYS_IN_SERVICE.reduce((s, d) => s + d, 0);
  return {
    effective_h,
    active_h: sum((r) => r.active_h),
    powered_on_h: sum((r) => r.powered_on_h),
    external_h,
    internal_h: sum((r) => r.internal_h),
    unattributed_h: sum((r) => r.unattributed_h),
    rated_h,
    utilization_rate: rated_h > 0 ? effective_h / rated_h : null,
    sharing_rate: effective_h > 0 ? external_h / effective_h : null,
    sessions: sum((r) => r.sessions),
    coverage: rows.reduce((s, r, i) => s + r.coverage * (DAYS_IN_SERVICE[i] ?? 0), 0) / days,
    energy_kwh: sum((r) => r.energy_kwh),
    booked_h: sum((r) => r.booked_h),
    no_show_h: sum((r) => r.no_show_h),
    bookings: sum((r) => r.bookings),
    service_income_cny: sumNullable((r) => r.service_income_cny),
    trained_users: sumNullable((r) => r.trained_users),
  };
}

function session(
  instrument_id: string,
  from: string,
  to: string,
  active_h: number,
  energy_kwh: number,
  split: { external_h?: number; internal_h?: number; unattributed_h?: number },
  booking_ids: number[],
): AttributedSession {
  return {
    instrument_id,
    start: shanghai(from),
    end: shanghai(to),
    active_s: Math.round(active_h * 3600),
    energy_kwh,
    external_h: split.external_h ?? 0,
    internal_h: split.internal_h ?? 0,
    unattributed_h: split.unattributed_h ?? 0,
    booking_ids,
  };
}

const SESSIONS: AttributedSession[] = [
  // External user, booking 101 (09:00-12:00).
  session('GX-2015-0012', '2025-03-12 09:05', '2025-03-12 11:40', 2.1, 8.4, { external_h: 155 / 60 }, [101]),
  // Internal booking 102 (14:00-18:00), used until 17:30: partly used.
  session('GX-2015-0012', '2025-03-12 14:00', '2025-03-12 17:30', 3.0, 11.2, { internal_h: 3.5 }, [102]),
  // Crosses midnight: booking 103 (21:00-24:00) covers 21:30-24:00, the rest has no booking.
  session('GX-2015-0012', '2025-06-18 21:30', '2025-06-19 02:15', 4.1, 15.9, { internal_h: 2.5, unattributed_h: 2.25 }, [103]),
  // External booking 201 (08:00-21:00).
  session('GX-2025-0031', '2025-08-05 08:30', '2025-08-05 20:10', 10.2, 42.6, { external_h: 35 / 3 }, [201]),
  // Internal booking 202 (09:00-11:00) and external 203 (10:00-11:00) overlap: external wins 10:00-10:45.
  session('GX-2025-0031', '2025-09-10 09:15', '2025-09-10 10:45', 1.2, 5.1, { internal_h: 0.75, external_h: 0.75 }, [202, 203]),
  // Internal booking 301 (10:00-11:00).
  session('GX-2012-0048', '2025-04-02 10:00', '2025-04-02 10:45', 0.5, 1.3, { internal_h: 0.75 }, [301]),
];

const MISMATCHES: Mismatch[] = [
  {
    kind: 'partly_used',
    instrument_id: 'GX-2015-0012',
    start: shanghai('2025-03-12 14:00'),
    end: shanghai('2025-03-12 18:00'),
    booking_id: 102,
    user: '刘洋',
    organisation: '材料科学与工程学院',
    booked_h: 4,
    used_h: 3.5,
  },
  {
    kind: 'unattributed',
    instrument_id: 'GX-2015-0012',
    start: shanghai('2025-06-19 00:00'),
    end: shanghai('2025-06-19 02:15'),
    hours: 2.25,
  },
  {
    kind: 'overlapping_bookings',
    instrument_id: 'GX-2025-0031',
    start: shanghai('2025-09-10 10:00'),
    end: shanghai('2025-09-10 11:00'),
    booking_ids: [202, 203],
  },
  {
    kind: 'no_show',
    instrument_id: 'GX-2019-0107',
    start: shanghai('2025-10-09 09:00'),
    end: shanghai('2025-10-09 12:00'),
    booking_id: 401,
    user: '孙悦',
    organisation: '北京协和医学院',
    booked_h: 3,
    unknown_h: 3,
  },
  {
    kind: 'no_show',
    instrument_id: 'GX-2012-0048',
    start: shanghai('2025-05-06 14:00'),
    end: shanghai('2025-05-06 16:00'),
    booking_id: 302,
    user: '周杰',
    organisation: '某新材料科技有限公司',
    booked_h: 2,
    unknown_h: 0,
  },
];

const REPORT: AnnualReport = {
  year: 2025,
  time_zone: 'Asia/Shanghai',
  generated_at: shanghai('2026-01-05 10:30'),
  threshold_cny: 500_000,
  rows: ROWS,
  totals: totals(ROWS),
  sessions: SESSIONS,
  mismatches: MISMATCHES,
};

/** A fresh deep copy of the fixture report. */
export function annualFixture(): AnnualReport {
  return structuredClone(REPORT);
}

/** The instrument ids of the fixture, in row order. */
export const FIXTURE_IDS = ROWS.map((r) => r.id);
