/**
 * The columns of the annual assessment export (DOMAIN.md "Annual assessment export"), as data, and the cell
 * values of its three tables: 年度汇总 (one row per instrument + 合计), 机时明细 (every session: the evidence) and
 * 预约核对 (bookings vs measurements). The XLSX and CSV writers render these same tables, so both formats carry
 * the same headers and values; only the rendering of numbers and times differs.
 *
 * Values stay raw here: hours are the report's decimal hours (never rounded: rounding is display only), rates
 * are fractions (0.17, not 17), dates are `YYYY-MM-DD`, date-times are ms since the epoch (writers show them in
 * the report's time zone), booleans are booleans, and a missing value is null (an empty cell).
 */

import { daysBetween, daysInYear } from '../engine/days.ts';
import type { AnnualReport, AnnualRow, AttributedSession, Mismatch } from './types.ts';

/**
 * How a column is rendered. `text`, `hours`, `rate`, `money`, `int`, `date`, `bool` as asked, plus `energy`
 * (kWh, shown like hours but not hours) and `datetime` (a local date and time, for the session list).
 */
export type ColumnFormat = 'text' | 'hours' | 'rate' | 'money' | 'int' | 'date' | 'datetime' | 'bool' | 'energy';

export interface ExportColumn<K extends string = string> {
  key: K;
  /** The header in the sheet and the CSV (the form people fill in). */
  header_zh: string;
  /** English header: a cell note on the XLSX header, and the docs. */
  header_en: string;
  /** Unit of the figure, when it has one (`h`, `CNY`, `kWh`, `%`). */
  unit?: string;
  format: ColumnFormat;
  /** What the column holds, for the 说明 sheet and the docs. */
  description?: string;
}

/** A cell value: see the file comment for what each format holds. */
export type CellValue = string | number | boolean | null;

/** Rows with less than this share of known state are highlighted (XLSX) and noted (备注). */
export const COVERAGE_WARN = 0.9;

// ---------------------------------------------------------------------------------------------------------
// 年度汇总: the main sheet

/** Keys of the main sheet, in column order. */
export type AnnualColumnKey =
  | 'id'
  | 'name'
  | 'name_en'
  | 'model'
  | 'category_code'
  | 'manufacturer'
  | 'country'
  | 'original_value_cny'
  | 'commissioned'
  | 'owner_unit'
  | 'lab'
  | 'location'
  | 'contact'
  | 'funding_source'
  | 'shared'
  | 'asset_status'
  | 'rated_hours_per_year'
  | 'in_scope'
  | 'period'
  | 'effective_h'
  | 'active_h'
  | 'powered_on_h'
  | 'external_h'
  | 'internal_h'
  | 'unattributed_h'
  | 'rated_h'
  | 'utilization_rate'
  | 'sharing_rate'
  | 'sessions'
  | 'coverage'
  | 'energy_kwh'
  | 'booked_h'
  | 'no_show_h'
  | 'service_income_cny'
  | 'trained_users'
  | 'notes';

/**
 * The main sheet's columns in the order of the assessment form: registry fields first, then the figures. Hour
 * columns carry （小时） in the header even where the form writes only 定额机时 / 预约机时, so a header alone says
 * the unit. 统计期定额机时 is not on the form: it is the pro-rated denominator of 利用率, shown so the rate can
 * be checked by hand.
 */
export const ANNUAL_COLUMNS: readonly ExportColumn<AnnualColumnKey>[] = [
  { key: 'id', header_zh: '仪器编号', header_en: 'Asset number', format: 'text' },
  { key: 'name', header_zh: '仪器名称', header_en: 'Name', format: 'text' },
  { key: 'name_en', header_zh: '英文名称', header_en: 'English name', format: 'text' },
  { key: 'model', header_zh: '型号规格', header_en: 'Model', format: 'text' },
  { key: 'category_code', header_zh: '分类编码', header_en: 'Category code', format: 'text' },
  { key: 'manufacturer', header_zh: '生产制造商', header_en: 'Manufacturer', format: 'text' },
  { key: 'country', header_zh: '产地国别', header_en: 'Country of origin', format: 'text' },
  { key: 'original_value_cny', header_zh: '原值（元）', header_en: 'Original value', unit: 'CNY', format: 'money' },
  { key: 'commissioned', header_zh: '启用日期', header_en: 'Commissioning date', format: 'date' },
  { key: 'owner_unit', header_zh: '所在单位', header_en: 'Owner unit', format: 'text' },
  { key: 'lab', header_zh: '所在实验室', header_en: 'Laboratory', format: 'text' },
  { key: 'location', header_zh: '安放地址', header_en: 'Location', format: 'text' },
  { key: 'contact', header_zh: '联系人', header_en: 'Contact', format: 'text' },
  { key: 'funding_source', header_zh: '经费来源', header_en: 'Funding source', format: 'text' },
  { key: 'shared', header_zh: '是否共享', header_en: 'Shared', format: 'bool' },
  { key: 'asset_status', header_zh: '仪器状态', header_en: 'Status', format: 'text' },
  {
    key: 'rated_hours_per_year',
    header_zh: '定额机时（小时/年）',
    header_en: 'Rated hours per year',
    unit: 'h',
    format: 'hours',
    description: '登记的年定额机时；未登记时由统计期定额机时按在用天数折算回全年。',
  },
  {
    key: 'in_scope',
    header_zh: '纳入考核',
    header_en: 'In assessment scope',
    format: 'bool',
    description: '原值不低于大型仪器门槛（见“说明”）。',
  },
  {
    key: 'period',
    header_zh: '统计起止',
    header_en: 'Period covered',
    format: 'text',
    description: '统计覆盖的本地日期（年度按在用天数及统计日截取），不足全年时标“部分年度”。',
  },
  {
    key: 'effective_h',
    header_zh: '有效工作机时（小时）',
    header_en: 'Effective working hours',
    unit: 'h',
    format: 'hours',
    description: '测得使用时段（会话）之和：运行时间及其间短暂待机，含开机准备与测后处理。',
  },
  { key: 'active_h', header_zh: '运行机时（小时）', header_en: 'Active hours', unit: 'h', format: 'hours', description: '处于运行（active）状态的时间。' },
  {
    key: 'powered_on_h',
    header_zh: '开机机时（小时）',
    header_en: 'Powered-on hours',
    unit: 'h',
    format: 'hours',
    description: '待机 + 运行 + 故障的时间。',
  },
  {
    key: 'external_h',
    header_zh: '对外服务机时（小时）',
    header_en: 'External service hours',
    unit: 'h',
    format: 'hours',
    description: '有效工作机时中与校外用户预约/使用记录重叠的部分。',
  },
  {
    key: 'internal_h',
    header_zh: '校内服务机时（小时）',
    header_en: 'Internal service hours',
    unit: 'h',
    format: 'hours',
    description: '与校内预约重叠、且无校外预约的部分。',
  },
  {
    key: 'unattributed_h',
    header_zh: '未归属机时（小时）',
    header_en: 'Unattributed hours',
    unit: 'h',
    format: 'hours',
    description: '测得使用但无任何预约/使用记录的部分。',
  },
  {
    key: 'rated_h',
    header_zh: '统计期定额机时（小时）',
    header_en: 'Rated hours for the period',
    unit: 'h',
    format: 'hours',
    description: '年定额机时按统计期在用天数折算，利用率的分母。',
  },
  {
    key: 'utilization_rate',
    header_zh: '利用率',
    header_en: 'Utilization rate',
    unit: '%',
    format: 'rate',
    description: '有效工作机时 / 统计期定额机时。',
  },
  {
    key: 'sharing_rate',
    header_zh: '共享率',
    header_en: 'Sharing rate',
    unit: '%',
    format: 'rate',
    description: '对外服务机时 / 有效工作机时。',
  },
  { key: 'sessions', header_zh: '使用次数', header_en: 'Sessions', format: 'int', description: '测得使用时段（会话）数。' },
  {
    key: 'coverage',
    header_zh: '数据覆盖率',
    header_en: 'Data coverage',
    unit: '%',
    format: 'rate',
    description: '在用时间中状态已知的比例；无数据时段不计为关机，也不计为使用。',
  },
  { key: 'energy_kwh', header_zh: '耗电量（kWh）', header_en: 'Energy', unit: 'kWh', format: 'energy' },
  { key: 'booked_h', header_zh: '预约机时（小时）', header_en: 'Booked hours', unit: 'h', format: 'hours' },
  {
    key: 'no_show_h',
    header_zh: '预约未使用机时（小时）',
    header_en: 'Booked but unused hours',
    unit: 'h',
    format: 'hours',
    description: '预约时段内确认未使用的时间（无数据的部分不计）。',
  },
  {
    key: 'service_income_cny',
    header_zh: '服务收入（元）',
    header_en: 'Service income',
    unit: 'CNY',
    format: 'money',
    description: '人工填报，非测量值。',
  },
  { key: 'trained_users', header_zh: '培训人数', header_en: 'Trained users', format: 'int', description: '人工填报，非测量值。' },
  { key: 'notes', header_zh: '备注', header_en: 'Notes', format: 'text', description: '无数据、部分年度原因、覆盖率不足。' },
];

/** The main sheet's figures: everything a row and the totals both have. */
type Figures = AnnualReport['totals'];

function figureValue(f: Figures, key: AnnualColumnKey): CellValue | undefined {
  switch (key) {
    case 'effective_h':
    case 'active_h':
    case 'powered_on_h':
    case 'external_h':
    case 'internal_h':
    case 'unattributed_h':
    case 'rated_h':
    case 'utilization_rate':
    case 'sharing_rate':
    case 'sessions':
    case 'coverage':
    case 'energy_kwh':
    case 'booked_h':
    case 'no_show_h':
    case 'service_income_cny':
    case 'trained_users':
      return f[key];
    default:
      return undefined;
  }
}

/** True when the row is measured and its utilization is below its (pro-rated) rated hours. No data is not "under". */
export function isUnderRated(row: Pick<AnnualRow, 'no_data' | 'utilization_rate'>): boolean {
  return !row.no_data && row.utilization_rate !== null && row.utilization_rate < 1;
}

/** True when the row's coverage is below COVERAGE_WARN. */
export function isLowCoverage(row: Pick<AnnualRow, 'coverage'>): boolean {
  return row.coverage < COVERAGE_WARN;
}

/** The yearly rated hours: the registered figure, or the period's figure scaled back to the year. */
function ratedPerYear(year: number, row: AnnualRow): number | null {
  if (row.asset.rated_hours !== undefined) return row.asset.rated_hours;
  if (row.from === null || row.to === null) return null;
  const days = daysBetween(row.from, row.to) + 1;
  if (days <= 0) return null;
  // Scaled back, 1,400 h may come out as 1399.9999999999998: two decimals are exact enough for a yearly figure.
  return Math.round(((row.rated_h * daysInYear(year)) / days) * 100) / 100;
}

/** Why a row covers less than the year, e.g. `2025-07-01 启用`; [] for a whole year. */
export function partialReasons(year: number, row: AnnualRow): string[] {
  if (!row.partial) return [];
  if (row.from === null || row.to === null) return ['本年度未在用'];
  const reasons: string[] = [];
  if (row.from > `${year}-01-01`) {
    reasons.push(row.asset.commissioned === row.from ? `${row.from} 启用` : `自 ${row.from} 起统计`);
  }
  if (row.to < `${year}-12-31`) {
    reasons.push(row.asset.retired === row.to ? `${row.to} 停用` : `统计截至 ${row.to}（年度未结束）`);
  }
  return reasons.length > 0 ? reasons : ['统计期不足全年'];
}

/** 统计起止: `2025-07-01 至 2025-12-31（部分年度）`. */
export function periodText(row: AnnualRow): string {
  if (row.from === null || row.to === null) return row.partial ? '本年度未在用（部分年度）' : '';
  return `${row.from} 至 ${row.to}${row.partial ? '（部分年度）' : ''}`;
}

/** 备注: 无数据, 部分年度 with its reasons, low coverage; joined with `；`. */
export function rowNotes(year: number, row: AnnualRow): string {
  const notes: string[] = [];
  if (row.no_data) notes.push('无数据（本年度无任何读数）');
  if (row.partial) notes.push(`部分年度：${partialReasons(year, row).join('，')}`);
  if (!row.no_data && isLowCoverage(row)) {
    notes.push(`数据覆盖率 ${(row.coverage * 100).toFixed(1)}%，低于 ${Math.round(COVERAGE_WARN * 100)}%`);
  }
  return notes.join('；');
}

/** The value of one main-sheet cell for an instrument row. */
export function annualCellValue(report: AnnualReport, row: AnnualRow, key: AnnualColumnKey): CellValue {
  const a = row.asset;
  switch (key) {
    case 'id':
      return row.id;
    case 'name':
      return a.name ?? null;
    case 'name_en':
      return a.name_en ?? null;
    case 'model':
      return a.model ?? null;
    case 'category_code':
      return a.category_code ?? null;
    case 'manufacturer':
      return a.manufacturer ?? null;
    case 'country':
      return a.country ?? null;
    case 'original_value_cny':
      return a.original_value_cny ?? null;
    case 'commissioned':
      return a.commissioned ?? null;
    case 'owner_unit':
      return a.owner_unit ?? null;
    case 'lab':
      return a.lab ?? null;
    case 'location':
      return a.location ?? null;
    case 'contact':
      return a.contact ?? null;
    case 'funding_source':
      return a.funding_source ?? null;
    case 'shared':
      return a.shared ?? true;
    case 'asset_status':
      return a.asset_status ?? null;
    case 'rated_hours_per_year':
      return ratedPerYear(report.year, row);
    case 'in_scope':
      return row.in_scope;
    case 'period':
      return periodText(row);
    case 'notes':
      return rowNotes(report.year, row) || null;
    default:
      return figureValue(row, key) ?? null;
  }
}

/** The value of one cell of the 合计 row: `合计` under 仪器编号, the count under 仪器名称, sums and totals' rates. */
export function annualTotalsValue(report: AnnualReport, key: AnnualColumnKey): CellValue {
  switch (key) {
    case 'id':
      return '合计';
    case 'name':
      return `共 ${report.rows.length} 台`;
    case 'original_value_cny': {
      const values = report.rows.map((r) => r.asset.original_value_cny).filter((v): v is number => v !== undefined);
      return values.length > 0 ? values.reduce((s, v) => s + v, 0) : null;
    }
    case 'notes':
      return '利用率、共享率按合计值重新计算；覆盖率按在用时间加权';
    default:
      return figureValue(report.totals, key) ?? null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// 机时明细: every session

export type SessionColumnKey =
  | 'instrument_id'
  | 'start'
  | 'end'
  | 'duration_h'
  | 'active_h'
  | 'external_h'
  | 'internal_h'
  | 'unattributed_h'
  | 'energy_kwh'
  | 'booking_ids';

export const SESSION_COLUMNS: readonly ExportColumn<SessionColumnKey>[] = [
  { key: 'instrument_id', header_zh: '仪器编号', header_en: 'Asset number', format: 'text' },
  { key: 'start', header_zh: '开始时间', header_en: 'Start (local time)', format: 'datetime' },
  { key: 'end', header_zh: '结束时间', header_en: 'End (local time)', format: 'datetime' },
  { key: 'duration_h', header_zh: '时长（小时）', header_en: 'Duration', unit: 'h', format: 'hours', description: '计入有效工作机时的时长。' },
  { key: 'active_h', header_zh: '运行（小时）', header_en: 'Active', unit: 'h', format: 'hours' },
  { key: 'external_h', header_zh: '对外（小时）', header_en: 'External', unit: 'h', format: 'hours' },
  { key: 'internal_h', header_zh: '校内（小时）', header_en: 'Internal', unit: 'h', format: 'hours' },
  { key: 'unattributed_h', header_zh: '未归属（小时）', header_en: 'Unattributed', unit: 'h', format: 'hours' },
  { key: 'energy_kwh', header_zh: '耗电（kWh）', header_en: 'Energy', unit: 'kWh', format: 'energy' },
  { key: 'booking_ids', header_zh: '预约记录', header_en: 'Booking ids', format: 'text', description: '重叠的预约/使用记录编号。' },
];

const HOUR_MS = 3_600_000;

export function sessionCellValue(s: AttributedSession, key: SessionColumnKey): CellValue {
  switch (key) {
    case 'instrument_id':
      return s.instrument_id;
    case 'start':
      return s.start;
    case 'end':
      return s.end;
    case 'duration_h':
      return (s.end - s.start) / HOUR_MS;
    case 'active_h':
      return s.active_s / 3600;
    case 'external_h':
      return s.external_h;
    case 'internal_h':
      return s.internal_h;
    case 'unattributed_h':
      return s.unattributed_h;
    case 'energy_kwh':
      return s.energy_kwh;
    case 'booking_ids':
      return s.booking_ids.length > 0 ? s.booking_ids.join(', ') : null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// 预约核对: bookings vs measurements

export type MismatchColumnKey = 'kind' | 'instrument_id' | 'start' | 'end' | 'hours' | 'user' | 'organisation' | 'detail';

export const MISMATCH_COLUMNS: readonly ExportColumn<MismatchColumnKey>[] = [
  { key: 'kind', header_zh: '类型', header_en: 'Kind', format: 'text' },
  { key: 'instrument_id', header_zh: '仪器编号', header_en: 'Asset number', format: 'text' },
  { key: 'start', header_zh: '开始', header_en: 'Start (local time)', format: 'datetime' },
  { key: 'end', header_zh: '结束', header_en: 'End (local time)', format: 'datetime' },
  {
    key: 'hours',
    header_zh: '机时（小时）',
    header_en: 'Hours',
    unit: 'h',
    format: 'hours',
    description: '预约未使用：预约机时；部分使用：未使用部分；无预约使用：测得机时；预约重叠：重叠时长。',
  },
  { key: 'user', header_zh: '使用人', header_en: 'User', format: 'text' },
  { key: 'organisation', header_zh: '单位', header_en: 'Organisation', format: 'text' },
  { key: 'detail', header_zh: '说明', header_en: 'Detail', format: 'text' },
];

/** 类型 labels of the mismatch kinds. */
export const MISMATCH_KIND_ZH: Readonly<Record<Mismatch['kind'], string>> = {
  no_show: '预约未使用',
  partly_used: '部分使用',
  unattributed: '无预约使用',
  overlapping_bookings: '预约重叠',
};

const h2 = (h: number): string => h.toFixed(2);

/** 机时 of a mismatch: see the column description. */
function mismatchHours(m: Mismatch): number {
  switch (m.kind) {
    case 'no_show':
      return m.booked_h;
    case 'partly_used':
      return Math.max(0, m.booked_h - m.used_h);
    case 'unattributed':
      return m.hours;
    case 'overlapping_bookings':
      return (m.end - m.start) / HOUR_MS;
  }
}

/** 说明 of a mismatch, naming the booking ids. */
function mismatchDetail(m: Mismatch): string {
  switch (m.kind) {
    case 'no_show':
      return m.unknown_h > 0
        ? `预约 #${m.booking_id} 预约 ${h2(m.booked_h)} 小时，未测得使用；其中 ${h2(m.unknown_h)} 小时无数据，不计为未使用`
        : `预约 #${m.booking_id} 预约 ${h2(m.booked_h)} 小时，未测得使用`;
    case 'partly_used':
      return `预约 #${m.booking_id} 预约 ${h2(m.booked_h)} 小时，实际使用 ${h2(m.used_h)} 小时`;
    case 'unattributed':
      return `测得使用 ${h2(m.hours)} 小时，无对应预约/使用记录`;
    case 'overlapping_bookings':
      return `预约 ${m.booking_ids.map((id) => `#${id}`).join('、')} 时间重叠`;
  }
}

export function mismatchCellValue(m: Mismatch, key: MismatchColumnKey): CellValue {
  switch (key) {
    case 'kind':
      return MISMATCH_KIND_ZH[m.kind];
    case 'instrument_id':
      return m.instrument_id;
    case 'start':
      return m.start;
    case 'end':
      return m.end;
    case 'hours':
      return mismatchHours(m);
    case 'user':
      return m.kind === 'no_show' || m.kind === 'partly_used' ? m.user : null;
    case 'organisation':
      return m.kind === 'no_show' || m.kind === 'partly_used' ? m.organisation : null;
    case 'detail':
      return mismatchDetail(m);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The three tables

/** One sheet's table: its columns and cell values, row by row. `totals` is the 合计 row (main sheet only). */
export interface ExportTable<K extends string = string> {
  columns: readonly ExportColumn<K>[];
  rows: CellValue[][];
  totals?: CellValue[];
}

export function summaryTable(report: AnnualReport): ExportTable<AnnualColumnKey> {
  return {
    columns: ANNUAL_COLUMNS,
    rows: report.rows.map((row) => ANNUAL_COLUMNS.map((c) => annualCellValue(report, row, c.key))),
    totals: ANNUAL_COLUMNS.map((c) => annualTotalsValue(report, c.key)),
  };
}

export function sessionsTable(report: AnnualReport): ExportTable<SessionColumnKey> {
  return {
    columns: SESSION_COLUMNS,
    rows: report.sessions.map((s) => SESSION_COLUMNS.map((c) => sessionCellValue(s, c.key))),
  };
}

export function mismatchesTable(report: AnnualReport): ExportTable<MismatchColumnKey> {
  return {
    columns: MISMATCH_COLUMNS,
    rows: report.mismatches.map((m) => MISMATCH_COLUMNS.map((c) => mismatchCellValue(m, c.key))),
  };
}

/** The definitions written on the 说明 sheet (and usable in the docs). */
export const DEFINITIONS_ZH: readonly { term: string; text: string }[] = [
  {
    term: '有效工作机时',
    text: '测得的使用时段（会话）之和：以运行状态为核心，合并间隔不超过合并阈值的待机，并计入运行前的开机准备（预热）与运行后的必要处理时间。每一小时均可在“机时明细”中追溯到具体时段。',
  },
  { term: '运行机时', text: '仪器处于运行（测量、执行程序、采集）状态的时间。' },
  { term: '开机机时', text: '待机、运行及故障状态的时间之和。' },
  {
    term: '对外服务机时',
    text: '有效工作机时中与校外用户预约/使用记录在时间上重叠的部分；校内服务机时为与校内记录重叠且无校外记录的部分；未归属机时为无任何记录的部分。三者之和等于有效工作机时。',
  },
  { term: '共享率', text: '对外服务机时 / 有效工作机时；有效工作机时为 0 时留空。' },
  {
    term: '利用率',
    text: '有效工作机时 / 定额机时。定额机时按统计期内在用天数折算（年中启用、停用或年度未结束时），即“统计期定额机时”；利用率低于 100% 的单元格以浅红色标出。',
  },
  {
    term: '数据覆盖率',
    text: '在用时间中状态已知的比例。状态未知（采集终端离线、读数错误、数据间隔过长）的时间既不计为关机，也不计为使用；覆盖率低于 90% 的行以浅黄色标出。',
  },
  { term: '无数据', text: '本年度无任何读数的仪器仍列出（机时为 0，备注“无数据”），不从报表中删除。' },
  { term: '部分年度', text: '统计期不足全年（年中启用、停用或年度未结束），在“统计起止”与“备注”中注明。' },
  { term: '服务收入、培训人数', text: '人工填报数据，非测量值。' },
  {
    term: '数值格式',
    text: '单元格保存完整数值，机时按 1 位小数显示，比率按百分比显示；合计行的利用率、共享率按合计值重新计算。',
  },
];

/** A Markdown table of columns (header, English, unit, format, description), for the docs. */
export function columnsMarkdown(columns: readonly ExportColumn[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| 列名 | English | Unit | Format | 说明 |', '| --- | --- | --- | --- | --- |'];
  for (const c of columns) {
    lines.push(`| ${cell(c.header_zh)} | ${cell(c.header_en)} | ${c.unit ?? ''} | ${c.format} | ${cell(c.description ?? '')} |`);
  }
  return `${lines.join('\n')}\n`;
}
