/**
 * Open sharing: the instrument registry (asset fields), booking / usage records, their attribution to measured
 * sessions, and the annual assessment report built from them (DOMAIN.md "Per-instrument record" and "Annual
 * assessment export"). Times are ms since the Unix epoch (UTC); days are local `YYYY-MM-DD` in the collector's
 * time zone. Hours are decimal hours.
 */

/** Asset fields of one instrument (the registry entry besides the engine parameters). All optional but the id. */
export interface AssetFields {
  /** 仪器名称 (Chinese name, the display name). */
  name?: string;
  /** 英文名称. */
  name_en?: string;
  /** 型号规格. */
  model?: string;
  /** 分类编码 (e.g. the national instrument category code `03040701`). */
  category_code?: string;
  /** 生产制造商. */
  manufacturer?: string;
  /** 产地国别. */
  country?: string;
  /** 原值, CNY. */
  original_value_cny?: number;
  /** 启用日期, YYYY-MM-DD. */
  commissioned?: string;
  /** Last day in service, YYYY-MM-DD. */
  retired?: string;
  /** 所在单位 (school / institute). */
  owner_unit?: string;
  /** 所在实验室. */
  lab?: string;
  /** 安放地址. */
  location?: string;
  /** 联系人 (name, phone or mail). */
  contact?: string;
  /** 经费来源. */
  funding_source?: string;
  /** 是否共享 (default true). */
  shared?: boolean;
  /** 仪器状态: in service, idle, under repair, retired... (free text, e.g. 在用). */
  asset_status?: string;
  /** 定额机时 per year. */
  rated_hours?: number;
  /** Device binding: the agent that reads this instrument. */
  agent?: string;
}

/** Figures entered by people for one year (not measured): 服务收入, 培训人数. */
export interface AnnualEntry {
  year: number;
  service_income_cny?: number;
  trained_users?: number;
}

/** One recorded change of a registry field. */
export interface RegistryChange {
  instrument_id: string;
  field: string;
  /** JSON values; null when the field was not set. */
  old_value: unknown;
  new_value: unknown;
  changed_at: number;
  /** `config` (the collector config file at start) or `api:<admin id>`. */
  source: string;
}

/** Whether the user of a booking belongs to the institution. */
export type UserKind = 'internal' | 'external';

/** One booking or usage record (预约 / 使用记录). */
export interface Booking {
  instrument_id: string;
  start: number;
  end: number;
  user: string;
  /** The user's organisation (校外单位 for external users). */
  organisation: string;
  kind: UserKind;
  purpose?: string;
  fee_cny?: number;
  samples?: number;
}

/** A stored booking: its row id and where it came from. */
export interface StoredBooking extends Booking {
  id: number;
  /** e.g. `bookings-2025.csv:17` (file and line) or `api`. */
  source: string;
}

/** A measured session as the attribution sees it. */
export interface SessionSpan {
  instrument_id: string;
  start: number;
  end: number;
  active_s: number;
  energy_kwh: number;
}

/** How one session's time splits by the bookings overlapping it. */
export interface AttributedSession extends SessionSpan {
  /** Session hours covered by an external booking. */
  external_h: number;
  /** Covered by an internal booking and no external one. */
  internal_h: number;
  /** Covered by no booking. */
  unattributed_h: number;
  /** Ids of the bookings overlapping the session. */
  booking_ids: number[];
}

/** What happened to one booking: measured use inside it, and the booked time with no measured use. */
export interface BookingUse {
  booking: StoredBooking;
  booked_h: number;
  /** Booked time covered by measured sessions. */
  used_h: number;
  /** booked_h - used_h: booked but not used (no-show when used_h is 0). */
  idle_h: number;
  /** Booked time whose state is unknown (no data): neither used nor a no-show can be claimed. */
  unknown_h: number;
}

/** A disagreement between bookings and measurements, for the mismatch sheet. */
export type Mismatch =
  | { kind: 'no_show'; instrument_id: string; start: number; end: number; booking_id: number; user: string; organisation: string; booked_h: number; unknown_h: number }
  | { kind: 'partly_used'; instrument_id: string; start: number; end: number; booking_id: number; user: string; organisation: string; booked_h: number; used_h: number }
  | { kind: 'unattributed'; instrument_id: string; start: number; end: number; hours: number }
  | { kind: 'overlapping_bookings'; instrument_id: string; start: number; end: number; booking_ids: number[] };

/** One instrument's row of the annual report. */
export interface AnnualRow {
  id: string;
  asset: AssetFields;
  /** Original value at or above the configured large-instrument threshold (纳入考核). */
  in_scope: boolean;
  /** The local days the figures cover: the year clipped to days in service and to today. */
  from: string | null;
  to: string | null;
  /** True when the figures cover less than the whole calendar year (commissioned, retired or the year is running). */
  partial: boolean;
  /** No reading at all in the year. */
  no_data: boolean;
  effective_h: number;
  active_h: number;
  powered_on_h: number;
  external_h: number;
  internal_h: number;
  unattributed_h: number;
  rated_h: number;
  /** effective / rated; null when rated is 0. */
  utilization_rate: number | null;
  /** external / effective; null when effective is 0. */
  sharing_rate: number | null;
  sessions: number;
  /** Share of the in-service elapsed time with a known state, 0..1: next to every figure. */
  coverage: number;
  energy_kwh: number;
  booked_h: number;
  no_show_h: number;
  bookings: number;
  service_income_cny: number | null;
  trained_users: number | null;
}

/** The whole annual assessment report. */
export interface AnnualReport {
  year: number;
  time_zone: string;
  generated_at: number;
  /** The large-instrument threshold the in_scope flag used, CNY. */
  threshold_cny: number;
  rows: AnnualRow[];
  /** Sums over rows (rates recomputed from the sums; coverage weighted by in-service time). */
  totals: Omit<AnnualRow, 'id' | 'asset' | 'in_scope' | 'from' | 'to' | 'partial' | 'no_data'>;
  /** Every session of the year, with its attribution: the evidence for every hour. */
  sessions: AttributedSession[];
  mismatches: Mismatch[];
}
