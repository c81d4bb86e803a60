// Short forms of UUIDs for text an operator reads: as short as `min` characters, longer where two of the UUIDs
// shown together would otherwise read the same (as git lengthens abbreviated hashes until they are unique).

/**
 * The shortest prefix of each UUID, at least `min` characters, that no other UUID of `uuids` shares (compared
 * case-insensitively; a prefix never ends on a dash). Duplicates in `uuids` count once.
 * @returns canonical (lower-case) UUID → its short form
 */
export function shortIds(uuids: Iterable<string>, min = 8): Map<string, string> {
  const sorted = [...new Set([...uuids].map((u) => u.toLowerCase()))].sort();
  const out = new Map<string, string>();
  sorted.forEach((u, i) => {
    const shared = Math.max(commonPrefix(u, sorted[i - 1]), commonPrefix(u, sorted[i + 1]));
    let len = Math.max(min, shared + 1);
    if (u[len - 1] === '-') len++;
    out.set(u, u.slice(0, Math.min(len, u.length)));
  });
  return out;
}

function commonPrefix(a: string, b: string | undefined): number {
  if (b === undefined) return 0;
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return n;
}
