/**
 * Cooperative yielding for the store's long loops (opening, sealing, replaying several MiB): work in slices
 * of `ms` and give the event loop a turn between them, so the console never stalls on the store.
 *   const slice = new TimeSlice(4); for (…) { …; if (slice.due()) await slice.pause(); }
 */
export class TimeSlice {
  private start = performance.now();
  constructor(private readonly ms: number) {}

  /** the slice is used up */
  due(): boolean {
    return performance.now() - this.start > this.ms;
  }

  /** yield to the event loop, then start a new slice */
  async pause(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.start = performance.now();
  }
}
