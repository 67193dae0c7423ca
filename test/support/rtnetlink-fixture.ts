import { readFileSync } from "node:fs";

/**
 * One namespace's RTM_GETLINK and RTM_GETADDR dumps (hex) and `ip -json` of the same state,
 * recorded by test/support/capture-rtnetlink.ts (its comment says what is in it and how to redo it).
 */
export const capturedDevices = JSON.parse(
  readFileSync(new URL("../../../test/fixtures/rtnetlink/devices.json", import.meta.url), "utf8"),
) as { captured: string; linkDump: string; addrDump: string; ipLinks: string; ipAddrs: string };
