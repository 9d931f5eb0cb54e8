// @ts-check
/**
 * Every string the console shows, in Chinese and English: one table, one key per string. `{name}` in a string is
 * replaced by the parameter of that name. The language is the saved choice, else the browser's (Chinese when any
 * of navigator.languages is zh*), else English.
 */

/** @typedef {'zh' | 'en'} Lang */

export const STRINGS = {
  'app.title': { zh: 'jishi 机时 · 仪器使用监控', en: 'jishi · instrument utilization' },
  'nav.board': { zh: '实时看板', en: 'Live board' },
  'nav.year': { zh: '年度统计', en: 'Year' },
  'lang.label': { zh: '语言', en: 'Language' },
  'conn.idle': { zh: '', en: '' },
  'conn.connecting': { zh: '连接中…', en: 'connecting…' },
  'conn.live': { zh: '实时', en: 'live' },
  'conn.reconnecting': { zh: '重新连接中…', en: 'reconnecting…' },
  'conn.polling': { zh: '轮询', en: 'polling' },

  'state.off': { zh: '关机', en: 'off' },
  'state.standby': { zh: '待机', en: 'standby' },
  'state.active': { zh: '运行', en: 'active' },
  'state.fault': { zh: '故障', en: 'fault' },
  'state.unknown': { zh: '未知', en: 'unknown' },

  'common.loading': { zh: '加载中…', en: 'Loading…' },
  'common.error': { zh: '出错了：{message}', en: 'Something went wrong: {message}' },
  'common.none': { zh: '无', en: 'none' },
  'common.never': { zh: '从未', en: 'never' },
  'common.h': { zh: '{value} 小时', en: '{value} h' },
  'common.ago.s': { zh: '{n} 秒前', en: '{n} s ago' },
  'common.ago.min': { zh: '{n} 分钟前', en: '{n} min ago' },
  'common.ago.h': { zh: '{n} 小时前', en: '{n} h ago' },
  'common.ago.d': { zh: '{n} 天前', en: '{n} d ago' },
  'common.back': { zh: '← 返回看板', en: '← Back to the board' },
  'common.apply': { zh: '应用', en: 'Apply' },

  'auth.title': { zh: '需要令牌', en: 'A token is needed' },
  'auth.text': {
    zh: '此采集器只允许持有令牌的用户读取数据（read_access: token）。请粘贴查看者（viewers）或管理员令牌；令牌只保存在本浏览器中。',
    en: 'This collector lets only token holders read (read_access: token). Paste a viewer (viewers in the collector config) or admin token; it is kept in this browser only.',
  },
  'auth.save': { zh: '保存', en: 'Save' },
  'auth.forget': { zh: '清除令牌', en: 'Forget token' },

  'board.title': { zh: '实时看板', en: 'Live board' },
  'board.instruments': { zh: '仪器', en: 'Instruments' },
  'board.empty': { zh: '还没有仪器：配置采集器的 instruments，或启动一个代理。', en: 'No instruments yet: configure `instruments` in the collector or start an agent.' },
  'board.power': { zh: '功率', en: 'Power' },
  'board.since': { zh: '自 {time}', en: 'since {time}' },
  'board.lastSeen': { zh: '最后数据', en: 'Last seen' },
  'board.today': { zh: '今日有效', en: 'Today' },
  'board.todayLong': { zh: '今日有效机时', en: 'Effective hours today' },
  'board.totalToday': { zh: '今日有效机时合计', en: 'Effective hours today' },
  'board.deviceError': { zh: '读数失败：{code}', en: 'read failed: {code}' },
  'board.status': { zh: '设备状态：{status}', en: 'device status: {status}' },
  'board.agents': { zh: '代理', en: 'Agents' },
  'board.noAgents': { zh: '没有已配置的代理。', en: 'No agents are configured.' },
  'board.changes': { zh: '最近状态变化', en: 'Recent state changes' },
  'board.noChanges': { zh: '打开本页以来没有状态变化。', en: 'No state change since this page was opened.' },
  'board.updated': { zh: '更新于 {time}', en: 'updated {time}' },

  'agent.id': { zh: '代理', en: 'Agent' },
  'agent.health': { zh: '健康', en: 'Health' },
  'agent.lastBatch': { zh: '最后一批', en: 'Last batch' },
  'agent.outbox': { zh: '待发队列', en: 'Outbox' },
  'agent.failing': { zh: '读数失败的仪器', en: 'Failing instruments' },
  'agent.clock': { zh: '时钟偏差', en: 'Clock skew' },
  'agent.batches': { zh: '批次', en: 'Batches' },
  'health.ok': { zh: '正常', en: 'ok' },
  'health.degraded': { zh: '部分异常', en: 'degraded' },
  'health.silent': { zh: '失联', en: 'silent' },
  'health.never': { zh: '未连接', en: 'never seen' },

  'inst.title': { zh: '仪器 {id}', en: 'Instrument {id}' },
  'inst.range': { zh: '时间范围', en: 'Range' },
  'inst.range.1h': { zh: '1 小时', en: '1 h' },
  'inst.range.6h': { zh: '6 小时', en: '6 h' },
  'inst.range.24h': { zh: '24 小时', en: '24 h' },
  'inst.range.7d': { zh: '7 天', en: '7 days' },
  'inst.range.30d': { zh: '30 天', en: '30 days' },
  'inst.from': { zh: '从', en: 'From' },
  'inst.to': { zh: '到', en: 'To' },
  'inst.chart': { zh: '功率与状态', en: 'Power and state' },
  'inst.chart.noData': { zh: '此时间范围内没有读数。', en: 'No readings in this range.' },
  'inst.chart.samples': { zh: '{n} 个读数，每点 {bucket}', en: '{n} readings, {bucket} per point' },
  'inst.chart.avg': { zh: '平均', en: 'mean' },
  'inst.chart.minmax': { zh: '最小–最大', en: 'min–max' },
  'inst.power': { zh: '功率 (W)', en: 'Power (W)' },
  'inst.lastReading': { zh: '最新读数', en: 'Last reading' },
  'inst.sessions': { zh: '使用时段（会话）', en: 'Sessions' },
  'inst.sessions.none': { zh: '此时间范围内没有会话。', en: 'No sessions in this range.' },
  'inst.sessions.start': { zh: '开始', en: 'Start' },
  'inst.sessions.end': { zh: '结束', en: 'End' },
  'inst.sessions.duration': { zh: '时长', en: 'Duration' },
  'inst.sessions.active': { zh: '运行', en: 'Active' },
  'inst.sessions.warmup': { zh: '预热', en: 'Warm-up' },
  'inst.sessions.post': { zh: '后处理', en: 'Post' },
  'inst.sessions.energy': { zh: '电能 (kWh)', en: 'Energy (kWh)' },
  'inst.sessions.open': { zh: '进行中', en: 'running' },
  'inst.bookings': { zh: '预约 / 使用记录', en: 'Bookings' },
  'inst.bookings.none': { zh: '此时间范围内没有预约记录。', en: 'No bookings in this range.' },
  'inst.bookings.user': { zh: '使用人', en: 'User' },
  'inst.bookings.org': { zh: '单位', en: 'Organisation' },
  'inst.bookings.kind': { zh: '类型', en: 'Kind' },
  'inst.bookings.source': { zh: '来源', en: 'Source' },
  'inst.bookings.external': { zh: '校外', en: 'external' },
  'inst.bookings.internal': { zh: '校内', en: 'internal' },
  'inst.bookings.delete': { zh: '删除', en: 'Delete' },
  'inst.bookings.needAdmin': { zh: '删除需要管理员令牌：{message}', en: 'Deleting needs an admin token: {message}' },
  'inst.bookings.confirmDelete': { zh: '删除 {user} 在 {start} 的预约？', en: 'Delete the booking of {user} at {start}?' },
  'inst.bookings.hint': {
    zh: '与会话按时间重叠匹配：校外预约覆盖的机时计为对外服务机时。在“年度统计”页导入 CSV；删除需要管理员令牌。',
    en: 'Matched to sessions by time overlap: session time covered by an external booking is external service hours. Import a CSV on the Year page; deleting needs an admin token.',
  },
  'inst.daily': { zh: '每日有效机时与额定进度', en: 'Daily effective hours against the rated pace' },
  'inst.daily.effective': { zh: '有效机时', en: 'effective hours' },
  'inst.daily.pace': { zh: '额定进度（{rated} 小时/年）', en: 'rated pace ({rated} h a year)' },
  'inst.daily.summary': {
    zh: '近 {days} 天：有效 {effective} 小时，额定进度 {rated} 小时（{rate}）。今年以来：有效 {ytd} 小时，使用率 {ytdRate}。',
    en: 'Last {days} days: {effective} h effective against {rated} h of rated pace ({rate}). This year: {ytd} h effective, utilization {ytdRate}.',
  },
  'inst.thresholds': { zh: '阈值设置与校准', en: 'Thresholds and calibration' },
  'inst.thresholds.none': { zh: '此仪器没有配置，也还没有数据：采用采集器的默认参数。', en: 'Not configured and no data yet: the collector defaults apply.' },
  'inst.thresholds.source.config': { zh: '来自采集器配置（只读；修改配置后运行 jishi recompute）', en: 'from the collector config (read-only; change the config, then run jishi recompute)' },
  'inst.thresholds.source.engine': { zh: '引擎正在使用的参数（未单独配置）', en: 'the parameters the engine runs with (not configured for this instrument)' },
  'param.off_w': { zh: '关机阈值 off_w', en: 'Off threshold off_w' },
  'param.active_w': { zh: '运行阈值 active_w', en: 'Active threshold active_w' },
  'param.hysteresis': { zh: '滞回 hysteresis', en: 'Hysteresis' },
  'param.min_dwell_s': { zh: '最短停留 min_dwell_s', en: 'Minimum dwell min_dwell_s' },
  'param.max_gap_s': { zh: '最大数据间隔 max_gap_s', en: 'Maximum gap max_gap_s' },
  'param.merge_gap_s': { zh: '会话合并间隔 merge_gap_s', en: 'Session merge gap merge_gap_s' },
  'param.warmup_max_s': { zh: '最长预热 warmup_max_s', en: 'Longest warm-up warmup_max_s' },
  'param.post_max_s': { zh: '最长后处理 post_max_s', en: 'Longest post-processing post_max_s' },
  'calib.title': { zh: '功率分布（{from} 至 {to}，{n} 个读数，对数刻度）', en: 'Power distribution ({from} to {to}, {n} readings, log scale)' },
  'calib.none': { zh: '没有可用于校准的功率读数。', en: 'No power readings to calibrate from.' },
  'calib.current': { zh: '当前', en: 'current' },
  'calib.proposed': { zh: '建议', en: 'proposed' },
  'calib.proposal': { zh: '建议阈值：off_w = {off} W，active_w = {active} W（jishi calibrate {id}）', en: 'Proposed thresholds: off_w = {off} W, active_w = {active} W (jishi calibrate {id})' },
  'calib.noProposal': { zh: '无法从这些读数中提出阈值。', en: 'No thresholds can be proposed from these readings.' },
  'calib.levels': { zh: '功率水平', en: 'Power levels' },
  'calib.reason': { zh: '分析说明（英文）', en: 'Analysis' },
  'calib.label.off': { zh: '关机', en: 'off' },
  'calib.label.standby': { zh: '待机', en: 'standby' },
  'calib.label.active': { zh: '运行', en: 'active' },
  'calib.label.on': { zh: '开机', en: 'on' },
  'calib.count': { zh: '读数', en: 'readings' },

  'year.title': { zh: '{year} 年度使用与共享', en: 'Utilization and sharing in {year}' },
  'year.prev': { zh: '上一年', en: 'previous year' },
  'year.next': { zh: '下一年', en: 'next year' },
  'year.downloads': { zh: '下载年度考核报表', en: 'Download the annual assessment export' },
  'year.xlsx': { zh: 'Excel (XLSX)', en: 'Excel (XLSX)' },
  'year.csv': { zh: 'CSV 汇总', en: 'CSV summary' },
  'year.csvSessions': { zh: 'CSV 会话明细', en: 'CSV sessions' },
  'year.html': { zh: 'HTML 报告', en: 'HTML report' },
  'year.empty': { zh: '这一年没有仪器。', en: 'No instruments in this year.' },
  'year.totals': { zh: '合计', en: 'Totals' },
  'year.generated': { zh: '生成于 {time}（{tz}）', en: 'generated {time} ({tz})' },
  'bookings.title': { zh: '导入预约 / 使用记录（CSV 或 Excel）', en: 'Import bookings (CSV or Excel)' },
  'bookings.hint': {
    zh: '预约系统或 Excel 导出的 CSV（UTF-8 或 GBK 均可）或 Excel 工作簿（.xlsx，读取第一个有数据的工作表）：仪器编号、开始时间、结束时间、使用人、单位、类型等列，见 docs/sharing.md。需要管理员令牌。同一文件重复导入不会重复记录。',
    en: 'A CSV exported by a booking system or Excel (UTF-8 or GBK), or an Excel workbook (.xlsx: its first sheet with data): instrument, start, end, user, organisation, kind... columns, see docs/sharing.md. Needs an admin token. Importing a file again adds nothing twice.',
  },
  'bookings.import': { zh: '导入', en: 'Import' },
  'bookings.importing': { zh: '导入中…', en: 'Importing…' },
  'bookings.noFile': { zh: '请先选择一个 CSV 文件。', en: 'Choose a CSV file first.' },
  'bookings.result': {
    zh: '{file}：导入 {inserted} 条，已存在 {duplicates} 条，{rejected} 行有误未导入。',
    en: '{file}: {inserted} imported, {duplicates} already there, {rejected} bad row(s) left out.',
  },
  'bookings.needAdmin': { zh: '导入需要管理员令牌：{message}', en: 'Importing needs an admin token: {message}' },
  'bookings.enterToken': { zh: '输入管理员令牌', en: 'Enter an admin token' },
  'bookings.line': { zh: '行', en: 'Line' },
  'bookings.column': { zh: '列', en: 'Column' },
  'bookings.value': { zh: '值', en: 'Value' },
  'bookings.problem': { zh: '问题', en: 'Problem' },
  'bookings.warnings': { zh: '提示', en: 'Notes' },
  'col.id': { zh: '编号', en: 'ID' },
  'col.name': { zh: '名称', en: 'Name' },
  'col.inScope': { zh: '纳入考核', en: 'In scope' },
  'col.effective': { zh: '有效机时', en: 'Effective h' },
  'col.rated': { zh: '额定机时', en: 'Rated h' },
  'col.utilization': { zh: '使用率', en: 'Utilization' },
  'col.external': { zh: '对外服务机时', en: 'External h' },
  'col.internal': { zh: '对内机时', en: 'Internal h' },
  'col.sharing': { zh: '共享率', en: 'Sharing rate' },
  'col.sessions': { zh: '会话', en: 'Sessions' },
  'col.coverage': { zh: '数据覆盖', en: 'Coverage' },
  'col.notes': { zh: '备注', en: 'Notes' },
  'note.partial': { zh: '非全年', en: 'part of the year' },
  'note.noData': { zh: '无数据', en: 'no data' },
  'yes': { zh: '是', en: 'yes' },
  'no': { zh: '否', en: 'no' },
};

/** @typedef {keyof typeof STRINGS} Key */

const STORAGE_KEY = 'jishi.lang';

/** @returns {Lang} */
function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch {
    // storage disabled
  }
  const langs = navigator.languages && navigator.languages.length > 0 ? navigator.languages : [navigator.language || 'en'];
  return langs.some((l) => /^zh\b/i.test(l)) ? 'zh' : 'en';
}

/** @type {Lang} */
let lang = initialLang();
/** @type {Set<() => void>} */
const listeners = new Set();

/** @returns {Lang} */
export function getLang() {
  return lang;
}

/** The BCP 47 locale of the language, for Intl. */
export function locale() {
  return lang === 'zh' ? 'zh-CN' : 'en-GB';
}

/** @param {Lang} next */
export function setLang(next) {
  if (next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // storage disabled: the choice lasts for this page
  }
  document.documentElement.lang = locale();
  for (const f of listeners) f();
}

/** @param {() => void} f */
export function onLangChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/**
 * The string for `key` in the current language, parameters filled in.
 * @param {Key} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params) {
  const entry = STRINGS[key];
  let s = entry ? entry[lang] : String(key);
  if (params) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return s;
}

/** Fills every `[data-i18n]` element under `root` with its string (static parts of index.html). */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const key = /** @type {Key} */ (el.getAttribute('data-i18n'));
    el.textContent = t(key);
  }
  document.title = t('app.title');
}
