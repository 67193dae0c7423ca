/**
 * A WireGuard key as `wg` writes it: 32 bytes in standard base64 (44 characters, one '=' of
 * padding). The last character before '=' carries only 4 bits of the key, so it is one of 16: a
 * string that decodes to anything but 32 bytes, or that re-encodes differently, never matches.
 */
export const wireguardKeyPattern = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export const isWireguardKey = (s: string): boolean => wireguardKeyPattern.test(s);
