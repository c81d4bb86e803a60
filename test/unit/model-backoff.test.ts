import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/model/backoff.js';

describe('backoffMs', () => {
  it('doubles from the base and stops at the maximum', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffMs(1000, 60_000, n))).toEqual([1000, 2000, 4000, 8000, 60_000]);
  });
  it('stays finite and bounded after any number of failures, and treats a negative count as none', () => {
    expect(backoffMs(1000, 60_000, 5000)).toBe(60_000);
    expect(backoffMs(500, 60_000, -1)).toBe(500);
  });
});
