/**
 * The text of an uploaded or imported CSV file, from its bytes.
 *
 * Booking systems and Excel on Chinese Windows save "CSV" in GBK (code page 936), Excel's "CSV UTF-8" and most
 * web exports in UTF-8 (often with a BOM). Both import as they are:
 * - a `charset` the sender named (HTTP `Content-Type: text/csv; charset=gbk`) is used: UTF-8 and the GB family
 *   (gbk, gb2312, gb18030, cp936, x-gbk); any other is an error (JISHI_ERR_UNSUPPORTED_MEDIA_TYPE), never a guess;
 * - otherwise bytes that are valid UTF-8 are UTF-8 (a BOM is dropped), and any others are read as GB18030, the
 *   superset of GBK and GB2312, so every GBK file decodes the same way; unless the GB18030 reading has more
 *   unreadable characters than the UTF-8 one (a UTF-8 file with a stray bad byte stays UTF-8, that byte U+FFFD).
 * Bytes that are neither (a Big5 or Shift-JIS file, a binary file) decode to U+FFFD characters, which the bookings
 * parser reports on the line it finds them.
 */
import { JishiError } from '../../common/errors.ts';

export type CsvEncoding = 'utf-8' | 'gb18030';

export interface DecodedCsv {
  text: string;
  encoding: CsvEncoding;
  /** How the encoding was chosen: named by the sender, or found from the bytes. */
  how: 'named' | 'detected';
}

const GB_NAMES = new Set(['gbk', 'gb2312', 'gb18030', 'cp936', 'x-gbk', 'windows-936', 'ms936', 'euc-cn']);
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);

/** `utf-8`, `gb18030`, or undefined for a charset name this module does not read. */
export function csvEncodingOf(charset: string): CsvEncoding | undefined {
  const name = charset.trim().replace(/^"|"$/g, '').toLowerCase();
  if (UTF8_NAMES.has(name)) return 'utf-8';
  if (GB_NAMES.has(name)) return 'gb18030';
  return undefined;
}

/** The `charset` parameter of a Content-Type header value, if any. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*("[^"]*"|[^;\s]+)/i.exec(contentType ?? '');
  return m === null ? undefined : m[1]!.replace(/^"|"$/g, '');
}

/** What an import says when it found a GBK file (the API's warning; the CLI prints it after the file name). */
export const GBK_NOTE = 'not UTF-8, read as GBK (GB18030)';

/** TextDecoder drops a leading BOM (ignoreBOM false, the default). */
const utf8 = (bytes: Uint8Array, fatal: boolean): string => new TextDecoder('utf-8', { fatal }).decode(bytes);
const gb18030 = (bytes: Uint8Array): string => new TextDecoder('gb18030').decode(bytes);

/** See the module comment. Throws JishiError JISHI_ERR_UNSUPPORTED_MEDIA_TYPE for a named charset it cannot read. */
export function decodeCsvBytes(bytes: Uint8Array, charset?: string): DecodedCsv {
  if (charset !== undefined && charset.trim() !== '') {
    const encoding = csvEncodingOf(charset);
    if (encoding === undefined) {
      throw new JishiError('JISHI_ERR_UNSUPPORTED_MEDIA_TYPE', `charset ${JSON.stringify(charset)} is not read here: send UTF-8 or GBK (GB18030)`);
    }
    return { text: encoding === 'utf-8' ? utf8(bytes, false) : gb18030(bytes), encoding, how: 'named' };
  }
  try {
    return { text: utf8(bytes, true), encoding: 'utf-8', how: 'detected' };
  } catch {
    // Not valid UTF-8. A GBK file read as UTF-8 is unreadable almost everywhere; a UTF-8 file with a stray bad byte
    // read as GBK is unreadable almost everywhere too: keep the reading with fewer unreadable characters.
    const asUtf8 = utf8(bytes, false);
    const asGb = gb18030(bytes);
    return replacements(asGb) < replacements(asUtf8)
      ? { text: asGb, encoding: 'gb18030', how: 'detected' }
      : { text: asUtf8, encoding: 'utf-8', how: 'detected' };
  }
}

/** U+FFFD characters: the bytes a decoder could not read. */
function replacements(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) n++;
  return n;
}
