/**
 * The text of a bookings file, whatever it came as: an Excel workbook (./bookings-xlsx.ts: the CSV text of its first
 * sheet with data) or a CSV file (./csv-decode.ts: UTF-8 or GBK), with notes on how it was read, for the CLI's
 * output and the API's warnings. parseBookingsCsv reads the text.
 */
import { xlsxBookingsText } from './bookings-xlsx.ts';
import { decodeCsvBytes, GBK_NOTE } from './csv-decode.ts';

export interface BookingsFileText {
  text: string;
  /** How the file was read, when that is worth saying (which sheet; GBK found). */
  notes: Array<{ line?: number; message: string }>;
}

/**
 * @param o.xlsx the file is a workbook (the API knows it from the content type, the CLI from the bytes)
 * @param o.charset a charset the sender named (HTTP); see decodeCsvBytes
 * @throws JishiError for a workbook that cannot be read, or a named charset that is not read
 */
export async function bookingsFileText(bytes: Uint8Array, o: { xlsx: boolean; charset?: string | undefined }): Promise<BookingsFileText> {
  if (o.xlsx) {
    const { text, sheet } = await xlsxBookingsText(bytes);
    return { text, notes: [{ message: `read sheet ${JSON.stringify(sheet)} of the workbook` }] };
  }
  const decoded = decodeCsvBytes(bytes, o.charset);
  return { text: decoded.text, notes: decoded.encoding === 'gb18030' && decoded.how === 'detected' ? [{ line: 1, message: GBK_NOTE }] : [] };
}
