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
  /** the list's codec packs: id, then numbers (rows: a beacon's time and sequence steps) */
  packed?: number[][];
  del?: number[];
  /** the list's order changed: every id, in order */
  order?: number[];
}

/** A list's compact form for its most frequent change, e.g. a row whose only news is one more beacon. */
export interface ListCodec<T> {
  pack(prev: T, next: T, patch: Obj): number[] | undefined;
  unpack(prev: T, nums: number[]): T;
}

const isPlain = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
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

/** The sender's side of one keyed list. */
export class ListSender<T extends object> {
  private sent = new Map<string, { id: number; item: T }>();
  private order: number[] = [];
  private nextId = 1;

  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly codec?: ListCodec<T>,
  ) {}

  /** the change from what was last sent to `items`, and remember `items` as sent; undefined when nothing changed */
  diff(items: readonly T[]): ListDelta | undefined {
    const d: ListDelta = {};
    const next = new Map<string, { id: number; item: T }>();
    const order: number[] = [];
    for (const item of items) {
      const key = this.keyOf(item);
      if (next.has(key)) continue;
      const prev = this.sent.get(key);
      const id = prev?.id ?? this.nextId++;
      next.set(key, { id, item });
      order.push(id);
      if (prev?.item === item) continue;
      if (!prev) (d.add ??= []).push([id, item as Obj]);
      else this.change(d, id, prev.item, item);
    }
    for (const [key, { id }] of this.sent) if (!next.has(key)) (d.del ??= []).push(id);
    // appends keep the order on their own; anything else says it in full
    const gone = new Set(d.del);
    const kept = gone.size ? this.order.filter((id) => !gone.has(id)) : this.order;
    const appended = kept.every((id, i) => order[i] === id);
    if (!appended) d.order = order;
    this.sent = next;
    this.order = order;
    return d.add || d.patch || d.packed || d.del || d.order ? d : undefined;
  }

  private change(d: ListDelta, id: number, prev: T, item: T): void {
    const p = patchOf(prev as Obj, item as Obj);
    if (!p) return;
    const nums = this.codec?.pack(prev, item, p);
    if (nums) (d.packed ??= []).push([id, ...nums]);
    else (d.patch ??= []).push([id, p]);
  }

  /** everything last sent, as one delta a fresh receiver applies */
  full(): ListDelta {
    return { add: [...this.sent.values()].map(({ id, item }) => [id, item as Obj]) };
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
    for (const [id, ...nums] of d.packed ?? []) {
      const prev = this.items.get(id!);
      if (prev && this.codec) this.items.set(id!, Object.freeze(this.codec.unpack(prev, nums)));
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
