import { connect } from "node:net";
import {
  answerLength,
  encodeGet,
  encodeSet,
  parseErrno,
  parseGet,
  UapiError,
  type WireguardDeviceState,
  type WireguardSet,
} from "./uapi-codec.js";

/** Reads and configures one WireGuard device: wireguard-go's UAPI socket, or the kernel's device. */
export interface WireguardDevice {
  read(): Promise<WireguardDeviceState>;
  /** Applies a set request; an empty one is never sent. */
  write(set: WireguardSet): Promise<void>;
}

/** One request on a fresh connection to the UAPI socket, the answer as text (bounded in time and size). */
export function uapiRequest(socketPath: string, request: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let text = "";
    const fail = (err: Error) => {
      sock.destroy();
      reject(err);
    };
    sock.setTimeout(timeoutMs, () => fail(new UapiError(`UAPI ${socketPath}: no answer in ${timeoutMs} ms`)));
    sock.on("error", (err) => fail(new UapiError(`UAPI ${socketPath}: ${err.message}`)));
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      text += d;
      const n = answerLength(text);
      if (n !== undefined) {
        sock.end();
        resolve(text.slice(0, n));
      } else if (text.length > 4 * 1024 * 1024) fail(new UapiError(`UAPI ${socketPath}: answer too large`));
    });
    sock.on("end", () => {
      if (answerLength(text) === undefined) fail(new UapiError(`UAPI ${socketPath}: closed mid-answer`));
    });
    sock.write(request);
  });
}

/** The device behind a UAPI socket (wireguard-go's `<dir>/<ifname>.sock`). */
export function uapiDevice(socketPath: string): WireguardDevice {
  return {
    async read() {
      return parseGet(await uapiRequest(socketPath, encodeGet()));
    },
    async write(set) {
      const errno = parseErrno(await uapiRequest(socketPath, encodeSet(set)));
      if (errno !== 0) throw new UapiError(`UAPI set on ${socketPath} failed: errno ${errno}`, errno);
    },
  };
}
