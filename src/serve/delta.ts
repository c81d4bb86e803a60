// Keyed lists sent as deltas: a sender keeps what it last sent for each key and, for an item whose object changed,
// sends only its changed fields (one level into plain sub-objects, e.g. a row's lastBeacon). The receiver applies
// them to its copy, making new objects only for the items that changed (views keep lists by item identity).

type Obj = Record<string, unknown>;

/**
 * One list's change. Items travel under small ids the sender gives them (a key's id never changes while it is
 * listed), so a patch names a row in a few bytes, not by its 36-character UUID.
 */
export interface ListDelta {
  /** [id, item]: items new to the receiver, whole */
  add?: [number, Obj][];
  /** [id, patch]: a patch's null field is a removed field; {$: {…}} is a patch of a sub-object */
  patch?: [number, Obj][];
  /**
   * the list's codec's compact form, flat: for each item, the step from the previous item's id (ids ascending, the
   * first from 0), then the codec's `width` numbers (rows: the time since the last beacon)
   */
  packed?: number[];
  del?: number[];
  /** the list's order changed: every id, in order */
  order?: number[];
}

/** A list's compact form for its most frequent change, e.g. a row whose only news is one more beacon. */
export interface ListCodec<T> {
  /** numbers per item in the packed form */
  width: number;
  /** exactly `width` numbers, or undefined when the change is not of the compact kind */
  pack(prev: T, next: T, patch: Obj): number[] | undefined;
  unpack(prev: T, nums: number[]): T;
}

const isPlain = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** equal as JSON says it (an undefined field is no field), without writing either out: a flush compares thousands */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  const x = a as Obj;
  const y = b as Obj;
  let fields = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    fields++;
    if (!same(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) fields--;
  return fields === 0;
}

/** the fields of `next` that differ from `prev` (undefined when none) */
export function patchOf(prev: Obj, next: Obj, depth = 1): Obj | undefined {
  let out: Obj | undefined;
  for (const k of Object.keys(next)) {
    const a = prev[k];
    const b = next[k];
    if (b === undefined) continue;
    if (same(a, b)) continue;
    if (depth > 0 && isPlain(a) && isPlain(b)) {
      const sub = patchOf(a, b, depth - 1);
      if (sub) (out ??= {})[k] = { $: sub };
    } else (out ??= {})[k] = b;
  }
  for (const k of Object.keys(prev)) if (prev[k] !== undefined && next[k] === undefined) (out ??= {})[k] = null;
  return out;
}

export function applyPatch<T extends Obj>(prev: T, patch: Obj): T {
  const out: Obj = { ...prev };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isPlain(v) && isPlain(v.$) && Object.keys(v).length === 1) out[k] = applyPatch(isPlain(prev[k]) ? prev[k] : {}, v.$);
    else out[k] = v;
  }
  return Object.freeze(out) as T;
}

/** [id, numbers] by ascending id, flat, each id as its step from the one before: a few bytes an item */
function flatPack(items: [number, number[]][]): number[] {
  items.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let last = 0;
  for (const [id, nums] of items) {
    out.push(id - last, ...nums);
    last = id;
  }
  return out;
}

/** The sender's side of one keyed list. */
export class ListSender<T extends object> {
  /** what was last sent, by key; entries are updated in place (a flush over 10,000 unchanged rows builds nothing) */
  private sent = new Map<string, { id: number; item: T; gen: number }>();
  private order: number[] = [];
  private nextId = 1;
  private gen = 0;

  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly codec?: ListCodec<T>,
  ) {}

  /** the change from what was last sent to `items`, and remember `items` as sent; undefined when nothing changed */
  diff(items: readonly T[]): ListDelta | undefined {
    const d: ListDelta = {};
    const packed: [number, number[]][] = [];
    const gen = ++this.gen;
    const order: number[] = [];
    for (const item of items) {
      const key = this.keyOf(item);
      let e = this.sent.get(key);
      if (e?.gen === gen) continue; // a key listed twice: the first one
      if (!e) {
        e = { id: this.nextId++, item, gen };
        this.sent.set(key, e);
        (d.add ??= []).push([e.id, item as Obj]);
      } else {
        e.gen = gen;
        if (e.item !== item) this.change(d, packed, e.id, e.item, item);
        e.item = item;
      }
      order.push(e.id);
    }
    if (packed.length) d.packed = flatPack(packed);
    if (this.sent.size > order.length) {
      for (const [key, e] of this.sent) {
        if (e.gen === gen) continue;
        (d.del ??= []).push(e.id);
        this.sent.delete(key);
      }
    }
    // appends keep the order on their own; anything else says it in full
    const gone = d.del ? new Set(d.del) : undefined;
    const kept = gone ? this.order.filter((id) => !gone.has(id)) : this.order;
    let appended = kept.length <= order.length;
    for (let i = 0; appended && i < kept.length; i++) appended = order[i] === kept[i];
    if (!appended) d.order = order;
    this.order = order;
    return d.add || d.patch || d.packed || d.del || d.order ? d : undefined;
  }

  private change(d: ListDelta, packed: [number, number[]][], id: number, prev: T, item: T): void {
    const p = patchOf(prev as Obj, item as Obj);
    if (!p) return;
    const nums = this.codec?.pack(prev, item, p);
    if (nums && nums.length === this.codec!.width) packed.push([id, nums]);
    else (d.patch ??= []).push([id, p]);
  }

  /** everything last sent, as one delta a fresh receiver applies */
  full(): ListDelta {
    const byId = new Map([...this.sent.values()].map((e) => [e.id, e.item]));
    return { add: this.order.map((id) => [id, byId.get(id) as Obj]) };
  }
}

/** The receiver's side of one keyed list. */
export class ListReceiver<T extends object> {
  private items = new Map<number, T>();
  private list: readonly T[] = Object.freeze([]);

  constructor(private readonly codec?: ListCodec<T>) {}

  reset(): void {
    this.items.clear();
    this.list = Object.freeze([]);
  }

  apply(d: ListDelta): void {
    for (const id of d.del ?? []) this.items.delete(id);
    for (const [id, item] of d.add ?? []) this.items.set(id, Object.freeze(item) as T);
    for (const [id, p] of d.patch ?? []) {
      const prev = this.items.get(id);
      if (prev) this.items.set(id, applyPatch(prev as Obj, p) as T);
    }
    if (d.packed && this.codec) {
      const w = this.codec.width;
      let id = 0;
      for (let i = 0; i + w < d.packed.length; i += w + 1) {
        id += d.packed[i]!;
        const prev = this.items.get(id);
        if (prev) this.items.set(id, Object.freeze(this.codec.unpack(prev, d.packed.slice(i + 1, i + 1 + w))));
      }
    }
    if (d.order) {
      const m = this.items;
      this.items = new Map(d.order.filter((id) => m.has(id)).map((id) => [id, m.get(id)!]));
    }
    this.list = Object.freeze([...this.items.values()]);
  }

  get(): readonly T[] {
    return this.list;
  }
}
