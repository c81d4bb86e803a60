import { StringDecoder } from 'node:string_decoder';

/** the longest script line, in bytes (UTF-8, without its newline) */
export const MAX_LINE_BYTES = 64 * 1024;

export type ScriptLine = { no: number; text: string } | { no: number; tooLong: true };

/**
 * Lines of a byte stream, each at most maxBytes long. A longer line is reported once as tooLong and the rest of it
 * is dropped as it streams by, so memory stays bounded by maxBytes plus one chunk whatever the input holds
 * (readline would buffer the whole line first). "\r\n" and a last line without a newline are lines too.
 */
export async function* boundedLines(
  input: AsyncIterable<unknown> | NodeJS.ReadableStream,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<ScriptLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let no = 0;
  const take = (): ScriptLine => {
    no++;
    const line: ScriptLine = skipping ? { no, tooLong: true } : { no, text: decode(parts) };
    parts = [];
    size = 0;
    skipping = false;
    return line;
  };
  for await (const chunk of input as AsyncIterable<unknown>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl < 0 ? buf.length : nl;
      if (!skipping && end > start) {
        if (size + (end - start) > maxBytes) {
          skipping = true;
          parts = [];
          size = 0;
        } else {
          // a copy: a slice would keep the whole chunk alive for a few bytes of line
          parts.push(Buffer.from(buf.subarray(start, end)));
          size += end - start;
        }
      }
      if (nl < 0) break;
      yield take();
      start = nl + 1;
    }
  }
  if (skipping || size > 0) yield take();
}

function decode(parts: Buffer[]): string {
  const d = new StringDecoder('utf8');
  const s = parts.map((p) => d.write(p)).join('') + d.end();
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
