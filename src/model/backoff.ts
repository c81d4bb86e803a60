/**
 * Exponential backoff: `baseMs` doubled `doublings` times, never more than `maxMs`. The exponent is capped so a long
 * run of failures cannot overflow into Infinity (which setTimeout would turn into 1 ms).
 */
export function backoffMs(baseMs: number, maxMs: number, doublings: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, doublings), 30));
}
