import type { CniRequest } from "../../cni/skeleton.js";

/**
 * The MAC a runtime asks for through `runtimeConfig.mac` (the "mac" capability, CNI
 * CONVENTIONS.md; Multus sets it from the pod annotation's "mac"), when it is a MAC.
 */
export function runtimeMac(req: CniRequest<unknown>): string | undefined {
  const mac = req.runtimeConfig.mac;
  return typeof mac === "string" && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)
    ? mac.toLowerCase()
    : undefined;
}
