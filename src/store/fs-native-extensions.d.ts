// The part of fs-native-extensions (no bundled types) the store lock uses.
declare module 'fs-native-extensions' {
  /** an exclusive (or shared) lock on the whole file, or false when another open file holds a conflicting one */
  export function tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
}
