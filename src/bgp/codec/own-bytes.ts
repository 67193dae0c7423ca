/**
 * A copy of `view`'s bytes in a buffer of their own. `slice` does not do this for a Node Buffer
 * (Buffer#slice is a view, as subarray), and a socket's Buffer is a view of a larger read buffer
 * (64 KiB): a few bytes kept as a view keep it all — per session, 6 MiB over 100 sessions.
 */
export function ownBytes(view: Uint8Array): Uint8Array {
  return new Uint8Array(view);
}
