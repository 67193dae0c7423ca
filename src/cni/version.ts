import { CniError, CniErrorCode } from "./errors.js";

/** Spec versions whose result format Strata can produce; 0.1.0/0.2.0 (ip4/ip6 results) are not offered. */
export const supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const currentVersion = "1.1.0";

/** Compare dotted versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const atLeast = (version: string, min: string) => compareVersions(version, min) >= 0;

export function assertSupportedVersion(version: string): void {
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new CniError(
      CniErrorCode.DecodingFailure,
      `cniVersion "${version}" is not a version number`,
      `set cniVersion to one of ${supportedVersions.join(", ")}`,
    );
  }
  if (!(supportedVersions as readonly string[]).includes(version)) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      `incompatible CNI version ${version}`,
      `this plugin supports ${supportedVersions.join(", ")}; set cniVersion to one of them`,
    );
  }
}
