/**
 * One start (a connection, a session) at a time: callers that ask while it is under way share its promise
 * instead of each opening their own; once it settles, the next call starts afresh. The owner keeps what it
 * opened and checks that first, so only a start in flight is shared here.
 */
export class SharedStart<T> {
  private pending?: Promise<T>;

  /** the start under way, if any (close() waits for it) */
  get current(): Promise<T> | undefined {
    return this.pending;
  }

  /** Join the start under way, or begin one with `start`. */
  join(start: () => Promise<T>): Promise<T> {
    if (!this.pending) {
      const p = start().finally(() => {
        if (this.pending === p) this.pending = undefined;
      });
      this.pending = p;
    }
    return this.pending;
  }
}
