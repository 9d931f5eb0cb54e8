/**
 * A one-page HTML summary of the annual report for managers: self-contained (inline CSS and SVG, no scripts,
 * no external resources), printable on A4 portrait. Title, period, generation time and a coverage note; the
 * totals line; a horizontal bar chart of each instrument's utilization rate (against the 100 % = rated hours
 * line) and sharing rate; the instruments under their rated hours (red bar, a ▼ marker and a short list);
 * a compact table. Every text from the report (names come from config) is escaped.
 *
 * An instrument with no data is not "under rated hours": nothing is known about its use; it is listed as 无数据.
 */

import { formatLocalDateTime } from '../engine/time-zone.ts';
import { COVERAGE_WARN, isLowCoverage, isUnderRated, periodText, rowNotes } from './export-columns.ts';
import type { AnnualReport, AnnualRow } from './types.ts';

/** Escapes text for HTML content and attribute values (also valid inside inline SVG). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const hours = (h: number): string => h.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const pct = (r: number | null): string => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);

/** At most `n` characters (code points), with an ellipsis when cut. */
function clip(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : `${chars.slice(0, n - 1).join('')}…`;
}

const COLOR_UTIL = '#2f6fb0';
const COLOR_UNDER = '#c0392b';
const COLOR_SHARE = '#4e9a5a';
const COLOR_MUTED = '#8a8a8a';

/** The bar chart: one group per instrument, utilization bar above the sharing bar, a dashed 100 % line. */
function chartSvg(report: AnnualReport): string {
  const rows = report.rows;
  const W = 700;
  const labelW = 230;
  const x0 = labelW + 10;
  const x1 = W - 70;
  const top = 28;
  const groupH = 42;
  const H = top + rows.length * groupH + 16;
  const maxRate = Math.max(0, ...rows.map((r) => (r.no_data ? 0 : Math.max(r.utilization_rate ?? 0, r.sharing_rate ?? 0))));
  // The axis ends at a multiple of 50 %, at least 150 % so the 100 % line sits inside, at most 300 % (longer bars are cut).
  const axisMax = Math.min(3, Math.max(1.5, Math.ceil(maxRate * 2) / 2));
  const x = (rate: number): number => x0 + (Math.min(Math.max(rate, 0), axisMax) / axisMax) * (x1 - x0);
  const f = (n: number): string => n.toFixed(1);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="100%" role="img" ` +
      `aria-labelledby="chart-title"><title id="chart-title">各仪器利用率与共享率</title>`,
  );
  // Grid and axis labels.
  for (let t = 0; t <= axisMax + 1e-9; t += 0.5) {
    const gx = f(x(t));
    const is100 = Math.abs(t - 1) < 1e-9;
    parts.push(
      `<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${H - 12}" stroke="${is100 ? '#333' : '#ddd'}" ` +
        `stroke-width="${is100 ? 1.5 : 1}"${is100 ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${gx}" y="${top - 10}" class="axis" text-anchor="middle">${is100 ? '100% 定额机时' : `${Math.round(t * 100)}%`}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = top + i * groupH;
    const under = isUnderRated(r);
    const cls = r.no_data ? 'no-data' : under ? 'under' : 'ok';
    parts.push(`<g class="bar ${cls}" data-id="${escapeHtml(r.id)}">`);
    parts.push(
      `<text x="${labelW}" y="${y + 14}" text-anchor="end" class="label-id${under ? ' under' : ''}">` +
        `${under ? '▼ ' : ''}${escapeHtml(r.id)}</text>`,
      `<text x="${labelW}" y="${y + 29}" text-anchor="end" class="label-name">${escapeHtml(clip(r.asset.name ?? '', 16))}</text>`,
    );
    if (r.no_data) {
      parts.push(`<text x="${x0 + 4}" y="${y + 20}" class="value muted">无数据（本年度无任何读数）</text>`);
    } else {
      const u = r.utilization_rate;
      const s = r.sharing_rate;
      if (u !== null) {
        const ux = x(u);
        const label = `${u > axisMax ? '» ' : ''}利用率 ${pct(u)}${under ? ' ▼ 低于定额' : ''}`;
        // A label that would run past the right edge goes inside the bar's end, in white.
        const inside = ux + 4 + label.length * 9 > W;
        parts.push(
          `<rect x="${x0}" y="${y + 3}" width="${f(ux - x0)}" height="15" fill="${under ? COLOR_UNDER : COLOR_UTIL}"/>`,
          inside
            ? `<text x="${f(ux - 4)}" y="${y + 15}" text-anchor="end" class="value inside">${label}</text>`
            : `<text x="${f(ux + 4)}" y="${y + 15}" class="value halo${under ? ' under' : ''}">${label}</text>`,
        );
      }
      const sx = x(s ?? 0);
      parts.push(
        `<rect x="${x0}" y="${y + 21}" width="${f(sx - x0)}" height="10" fill="${COLOR_SHARE}"/>`,
        `<text x="${f(sx + 4)}" y="${y + 30}" class="value small halo">共享率 ${pct(s)}</text>`,
      );
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function tableRow(report: AnnualReport, r: AnnualRow): string {
  const under = isUnderRated(r);
  const classes = [under ? 'under' : '', r.no_data ? 'no-data' : '', r.partial ? 'partial' : ''].filter((c) => c !== '');
  const cells = [
    `<td class="id">${under ? '<span class="marker" title="低于定额机时">▼</span> ' : ''}${escapeHtml(r.id)}</td>`,
    `<td>${escapeHtml(r.asset.name ?? '')}</td>`,
    `<td class="period">${escapeHtml(periodText(r))}</td>`,
    `<td class="num">${hours(r.effective_h)}</td>`,
    `<td class="num">${hours(r.external_h)}</td>`,
    `<td class="num">${hours(r.rated_h)}</td>`,
    `<td class="num rate">${pct(r.utilization_rate)}</td>`,
    `<td class="num">${pct(r.sharing_rate)}</td>`,
    `<td class="num${isLowCoverage(r) ? ' low-cov' : ''}">${pct(r.coverage)}</td>`,
    `<td class="notes">${escapeHtml(rowNotes(report.year, r))}</td>`,
  ];
  return `<tr${classes.length > 0 ? ` class="${classes.join(' ')}"` : ''} data-id="${escapeHtml(r.id)}">${cells.join('')}</tr>`;
}

const CSS = `
@page { size: A4 portrait; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif;
  color: #222; margin: 0 auto; padding: 16px; max-width: 190mm; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 16pt; margin: 0 0 4px; }
h2 { font-size: 12pt; margin: 16px 0 6px; border-bottom: 1px solid #ccc; padding-bottom: 2px; }
.meta { color: #555; margin: 0 0 6px; font-size: 9.5pt; }
.coverage-note { background: #fff8e1; border-left: 3px solid #e0b000; padding: 6px 8px; margin: 6px 0; font-size: 9.5pt; }
.totals { background: #f3f6fa; border-left: 3px solid ${COLOR_UTIL}; padding: 6px 8px; margin: 8px 0; }
.chart { display: block; max-width: 100%; height: auto; }
.chart text { font-size: 11px; fill: #333; }
.chart .axis { font-size: 10px; fill: #666; }
.chart .label-id { font-weight: bold; }
.chart .label-name { fill: #555; }
.chart .small { font-size: 10px; }
.chart text.under { fill: ${COLOR_UNDER}; }
.chart text.muted { fill: ${COLOR_MUTED}; }
.chart text.inside { fill: #fff; }
.chart text.halo { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.legend { font-size: 9pt; color: #444; margin: 2px 0 0; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px; vertical-align: -1px; }
.under-list { margin: 4px 0; padding-left: 20px; }
.under-list li, .under .rate, .under .id { color: ${COLOR_UNDER}; }
.under .rate { background: #ffc7ce; font-weight: bold; }
.marker { color: ${COLOR_UNDER}; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
th, td { border: 1px solid #ccc; padding: 2px 4px; vertical-align: top; }
th { background: #d9e1f2; font-weight: bold; }
td.num { text-align: right; white-space: nowrap; }
td.id, td.period { white-space: nowrap; }
td.low-cov { background: #fff2cc; }
tr.no-data td { color: ${COLOR_MUTED}; }
tfoot td { font-weight: bold; background: #ededed; }
.defs { font-size: 8.5pt; color: #555; margin-top: 10px; }
@media print {
  body { padding: 0; max-width: none; font-size: 9.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section, tr, .chart { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; }
}
`;

/** The one-page HTML summary of the annual report. */
export function annualSummaryHtml(report: AnnualReport): string {
  const t = report.totals;
  const year = report.year;
  const title = `${year} 年度大型科研仪器开放共享机时统计`;
  const n = report.rows.length;
  const under = report.rows.filter(isUnderRated);
  const noData = report.rows.filter((r) => r.no_data);
  const lowCov = report.rows.filter((r) => !r.no_data && isLowCoverage(r));
  const partial = report.rows.filter((r) => r.partial);
  const ids = (rows: AnnualRow[]): string => rows.map((r) => escapeHtml(r.id)).join('、');
  const line = (rows: AnnualRow[], label: string): string => (rows.length > 0 ? `${label}：${ids(rows)}。` : '');

  const coverageNote =
    `数据覆盖率（在用时间中状态已知的比例）合计 ${pct(t.coverage)}。状态未知的时间既不计为使用，也不计为关机。` +
    line(lowCov, `覆盖率低于 ${Math.round(COVERAGE_WARN * 100)}%`) +
    line(noData, '无数据') +
    line(partial, '部分年度');

  const avg = n > 0 ? t.effective_h / n : 0;
  const totalsLine =
    `合计 ${n} 台：有效工作机时 ${hours(t.effective_h)} 小时（平均每台 ${hours(avg)} 小时），` +
    `对外服务机时 ${hours(t.external_h)} 小时，共享率 ${pct(t.sharing_rate)}，` +
    `利用率 ${pct(t.utilization_rate)}（定额机时 ${hours(t.rated_h)} 小时），使用 ${t.sessions.toLocaleString('en-US')} 次。`;

  const underList =
    under.length === 0
      ? '<p>无。</p>'
      : `<ul class="under-list">${under
          .map(
            (r) =>
              `<li data-id="${escapeHtml(r.id)}"><span class="marker">▼</span> <b>${escapeHtml(r.id)}</b> ${escapeHtml(r.asset.name ?? '')}：` +
              `利用率 ${pct(r.utilization_rate)}（有效工作机时 ${hours(r.effective_h)} / 定额 ${hours(r.rated_h)} 小时）</li>`,
          )
          .join('')}</ul>`;

  const head = ['仪器编号', '仪器名称', '统计起止', '有效工作机时（小时）', '对外服务机时（小时）', '定额机时（小时）', '利用率', '共享率', '覆盖率', '备注'];

  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="meta">统计期 ${year}-01-01 至 ${year}-12-31 · 时区 ${escapeHtml(report.time_zone)} · 生成于 ${escapeHtml(formatLocalDateTime(report.generated_at, report.time_zone))} · 大型仪器门槛 ${report.threshold_cny.toLocaleString('en-US')} 元</p>
<p class="coverage-note">${coverageNote}</p>
</header>
<p class="totals">${totalsLine}</p>
<section>
<h2>利用率与共享率</h2>
${chartSvg(report)}
<p class="legend"><i style="background:${COLOR_UTIL}"></i>利用率（有效工作机时 / 定额机时）<i style="background:${COLOR_UNDER}"></i>▼ 低于定额机时<i style="background:${COLOR_SHARE}"></i>共享率（对外服务机时 / 有效工作机时）；虚线：100% 定额机时</p>
</section>
<section>
<h2>低于定额机时（${under.length} 台）</h2>
${underList}
</section>
<section>
<h2>各仪器明细</h2>
<table>
<thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>
${report.rows.map((r) => tableRow(report, r)).join('\n')}
</tbody>
<tfoot><tr><td>合计</td><td>共 ${n} 台</td><td></td><td class="num">${hours(t.effective_h)}</td><td class="num">${hours(t.external_h)}</td><td class="num">${hours(t.rated_h)}</td><td class="num">${pct(t.utilization_rate)}</td><td class="num">${pct(t.sharing_rate)}</td><td class="num">${pct(t.coverage)}</td><td></td></tr></tfoot>
</table>
</section>
<p class="defs">有效工作机时：测得的使用时段之和（含开机准备与测后处理）；利用率 = 有效工作机时 / 定额机时（按在用天数折算）；共享率 = 对外服务机时 / 有效工作机时；对外服务机时按预约/使用记录与测得时段的时间重叠归属。每一小时均可在年度导出的“机时明细”中追溯。</p>
</body>
</html>
`;
}
