import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { StrataError } from "../../common/errors.js";
import { isWireguardKey } from "../../common/wireguard-key-format.js";

export { isWireguardKey };

/** A key file or key text that cannot be used, saying what to fix. */
export class WireguardKeyError extends StrataError {
  constructor(message: string) {
    super("backend.wireguard-key", message);
  }
}

export interface WireguardKeyPair {
  /** base64, as `wg genkey` prints it. */
  readonly privateKey: string;
  /** base64, as `wg pubkey` prints it: what the node publishes with its lease. */
  readonly publicKey: string;
}

// PKCS#8 wrapping of a raw X25519 private key (RFC 8410 §7): the DER prefix, then the 32 bytes.
const pkcs8X25519Prefix = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The public key of a base64 private key (X25519 by Node's crypto; `wg pubkey` computes the same). */
export function wireguardPublicKey(privateKey: string): string {
  if (!isWireguardKey(privateKey))
    throw new WireguardKeyError("a WireGuard private key is 32 bytes in base64 (44 characters)");
  const der = Buffer.concat([pkcs8X25519Prefix, Buffer.from(privateKey, "base64")]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" })).export({
    format: "jwk",
  });
  return Buffer.from(jwk.x as string, "base64url").toString("base64");
}

/**
 * A fresh key pair, made as `wg genkey` makes one: 32 random bytes clamped for Curve25519
 * (RFC 7748 §5), the public key derived by Node's X25519.
 */
export function generateWireguardKeyPair(): WireguardKeyPair {
  const k = randomBytes(32);
  k[0] = (k[0] as number) & 248;
  k[31] = ((k[31] as number) & 127) | 64;
  const privateKey = k.toString("base64");
  return { privateKey, publicKey: wireguardPublicKey(privateKey) };
}

/** Pure: base64 key → the lowercase hex the UAPI text protocol speaks. */
export const keyToHex = (base64: string): string => Buffer.from(base64, "base64").toString("hex");

/** Pure: UAPI hex key → base64. */
export const keyFromHex = (hex: string): string => Buffer.from(hex, "hex").toString("base64");

/**
 * The node's private key from `file`, made (mode 0600, written beside and renamed into place) when
 * there is none. Like `wg`, it refuses a key file that others can read, and it refuses a symlink.
 */
export async function loadOrCreatePrivateKey(file: string): Promise<WireguardKeyPair> {
  const st = await lstat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!st) return writePrivateKey(file, generateWireguardKeyPair());
  if (!st.isFile())
    throw new WireguardKeyError(`${file} is not a regular file: remove it, a new key is made`);
  if ((st.mode & 0o077) !== 0)
    throw new WireguardKeyError(
      `private key ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${file}, or remove it and a new key is made`,
    );
  const text = (await readFile(file, "utf8")).trim();
  if (!isWireguardKey(text))
    throw new WireguardKeyError(
      `${file} does not hold a WireGuard private key (32 bytes in base64): remove it, a new key is made`,
    );
  return { privateKey: text, publicKey: wireguardPublicKey(text) };
}

/** Write `pair`'s private key to `file` (0600 from the start; atomic), returning the pair. */
export async function writePrivateKey(file: string, pair: WireguardKeyPair): Promise<WireguardKeyPair> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${pair.privateKey}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return pair;
}
