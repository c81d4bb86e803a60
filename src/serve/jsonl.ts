import type { Readable } from 'node:stream';

/**
 * JSON lines from a stream, each at most maxBytes: a longer line, or one that is not a JSON object, ends the stream
 * (onBad says why) — the peer speaks the protocol or is cut off. Memory stays bounded by maxBytes plus one chunk.
 */
export function readJsonLines(
  input: Readable,
  maxBytes: number,
  onMessage: (m: Record<string, unknown>) => void,
  onBad: (why: string) => void,
): void {
  let parts: Buffer[] = [];
  let size = 0;
  let dead = false;
  const bad = (why: string) => {
    if (dead) return;
    dead = true;
    onBad(why);
  };
  input.on('data', (chunk: Buffer) => {
    let start = 0;
    while (!dead) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      size += end - start;
      if (size > maxBytes) return bad(`a message longer than ${maxBytes} bytes`);
      if (end > start) parts.push(chunk.subarray(start, end));
      if (nl < 0) return;
      const text = Buffer.concat(parts).toString('utf8');
      parts = [];
      size = 0;
      start = nl + 1;
      if (!text.trim()) continue;
      let m: unknown;
      try {
        m = JSON.parse(text);
      } catch {
        return bad('a message that is not JSON');
      }
      if (typeof m !== 'object' || m === null || Array.isArray(m)) return bad('a message that is not a JSON object');
      onMessage(m as Record<string, unknown>);
    }
  });
}
