// The `/` filter: a case-insensitive regex over a row's text; a leading `!` keeps the rows that do NOT match.

export type RowFilter = { ok: true; source: string; test: (text: string) => boolean } | { ok: false; source: string; error: string };

export function parseFilter(source: string): RowFilter {
  const invert = source.startsWith('!');
  const body = invert ? source.slice(1) : source;
  if (body === '') return { ok: true, source, test: () => true };
  let re: RegExp;
  try {
    re = new RegExp(body, 'i');
  } catch (e) {
    return {
      ok: false,
      source,
      error: `invalid filter /${body}/: ${e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e)}`,
    };
  }
  return { ok: true, source, test: invert ? (t) => !re.test(t) : (t) => re.test(t) };
}
