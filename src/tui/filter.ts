// The `/` filter: a case-insensitive regex tried on each of a row's fields (name, UUID, hosts, …; never the marks
// or the padding), so `^db` means "a field starts with db"; a leading `!` keeps the rows where NO field matches.

export type RowFilter =
  { ok: true; source: string; test: (fields: readonly string[]) => boolean } | { ok: false; source: string; error: string };

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
  const any = (fields: readonly string[]) => fields.some((f) => re.test(f));
  return { ok: true, source, test: invert ? (f) => !any(f) : any };
}
