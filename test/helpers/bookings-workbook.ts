/**
 * A bookings workbook as Excel would save it, for the XLSX import tests: a first sheet without data (a cover sheet),
 * then the bookings with date cells, a date typed as text, rich text, a hyperlink, a formula, an empty row and
 * a row naming an unknown instrument (NOPE-9, row 5). Instruments `ids` (default XRD-01 and NMR-02).
 */
import ExcelJS from 'exceljs';

export async function bookingsWorkbook(ids: readonly [string, string] = ['XRD-01', 'NMR-02']): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.addWorksheet('说明');
  const ws = wb.addWorksheet('预约记录');
  ws.addRow(['仪器编号', '开始时间', '结束时间', '使用人', '使用单位', '用户类型', '收费（元）', '用途']);
  // Excel date cells: exceljs keeps the wall time in the Date's UTC fields, as Excel keeps it without a zone.
  ws.addRow([ids[0], new Date(Date.UTC(2025, 4, 6, 9, 0)), new Date(Date.UTC(2025, 4, 6, 11, 30)), '张伟', '复旦大学, 化学系', '校外', 800, '物相分析\n第二批']);
  ws.addRow([]); // an empty row
  ws.addRow([
    ids[1],
    '2025/9/1 14:00', // a date typed as text
    '2025/9/1 16:00',
    { richText: [{ text: '刘' }, { font: { bold: true }, text: '洋' }] },
    { text: '材料学院', hyperlink: 'https://example.edu/' },
    '校内',
    { formula: '100*2', result: 200 },
    null,
  ]);
  ws.addRow(['NOPE-9', new Date(Date.UTC(2025, 4, 6, 9, 0)), new Date(Date.UTC(2025, 4, 6, 10, 0)), '某人', '某单位', '校内']);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

