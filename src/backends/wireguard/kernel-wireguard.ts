import type { Kernel, Netns } from "../../kernel/api.js";
import type { WireguardDevice } from "./uapi-client.js";
import {
  UapiError,
  type WireguardDeviceState,
  type WireguardPeerState,
  type WireguardSet,
} from "./uapi-codec.js";

/**
 * The kernel's WireGuard device, configured with wireguard-tools' `wg` (which speaks generic
 * netlink to it): the same diff as the UAPI socket, rendered as `wg set` arguments. Used where the
 * kernel has the wireguard module; on this project's kernel it has none, so this path is tested
 * through its rendered commands.
 */

/** Pure: `wg set` arguments for a set request. The private key goes by file (never on a command line). */
export function wgSetArgv(dev: string, set: WireguardSet, privateKeyFile: string): string[] {
  const argv = ["wg", "set", dev];
  if (set.privateKey !== undefined) argv.push("private-key", privateKeyFile);
  if (set.listenPort !== undefined) argv.push("listen-port", String(set.listenPort));
  for (const p of set.peers) {
    argv.push("peer", p.publicKey);
    if (p.remove) {
      argv.push("remove");
      continue;
    }
    if (p.endpoint !== undefined) argv.push("endpoint", p.endpoint);
    argv.push("persistent-keepalive", p.keepalive === 0 ? "off" : String(p.keepalive));
    // `wg set ... allowed-ips` replaces the peer's whole list (an empty string clears it).
    argv.push("allowed-ips", p.allowedIps.join(","));
  }
  return argv;
}

/** Pure: `wg show DEV dump` (tab-separated: the device's line, then one per peer) into its state. */
export function parseWgDump(text: string): WireguardDeviceState {
  const lines = text.split("\n").filter((l) => l !== "");
  const [device, ...peerLines] = lines;
  if (device === undefined) throw new UapiError("wg show dump: no output");
  const d = device.split("\t");
  if (d.length < 4) throw new UapiError(`wg show dump: device line "${device.slice(0, 80)}" is malformed`);
  const peers: WireguardPeerState[] = peerLines.map((line) => {
    const f = line.split("\t");
    if (f.length < 8) throw new UapiError(`wg show dump: peer line "${line.slice(0, 80)}" is malformed`);
    const [publicKey, , endpoint, allowed, handshake, rx, tx, keepalive] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    return {
      publicKey,
      ...(endpoint !== "(none)" ? { endpoint } : {}),
      allowedIps: allowed === "(none)" ? [] : allowed.split(","),
      keepalive: keepalive === "off" ? 0 : Number(keepalive),
      lastHandshake: Number(handshake),
      rxBytes: Number(rx),
      txBytes: Number(tx),
    };
  });
  const [privateKey, , port] = d as [string, string, string];
  return { ...(privateKey !== "(none)" ? { privateKey } : {}), listenPort: Number(port), peers };
}

/** The kernel device `dev` in `ns`, read and written through `wg` run in that namespace. */
export function kernelWireguardDevice(
  kernel: Kernel,
  ns: Netns,
  dev: string,
  privateKeyFile: string,
): WireguardDevice {
  return {
    async read() {
      const r = await kernel.exec(ns, ["wg", "show", dev, "dump"]);
      if (r.code !== 0) throw new UapiError(`wg show ${dev} dump: ${r.stderr.trim()}`);
      return parseWgDump(r.stdout);
    },
    async write(set) {
      const r = await kernel.exec(ns, wgSetArgv(dev, set, privateKeyFile));
      if (r.code !== 0) throw new UapiError(`wg set ${dev}: ${r.stderr.trim()}`);
    },
  };
}
