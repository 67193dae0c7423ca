import { StrataError } from "../common/errors.js";

/**
 * Well-known error codes of the CNI specification (1.1.0, "Error" section). Codes 1-99 are reserved
 * by the spec; Strata's own start at 100.
 */
export const CniErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** STATUS: the plugin cannot service ADD requests. */
  PluginNotAvailable: 50,
  /** STATUS: not available, and existing containers may have limited connectivity. */
  PluginNotAvailableLimitedConnectivity: 51,
  /** Strata: an address pool has no free address left. */
  AddressPoolExhausted: 100,
  /** Strata: the kernel lacks a feature the configuration asks for (e.g. a link kind). */
  KernelUnsupported: 101,
  /** Strata: a kernel operation failed. */
  KernelFailure: 102,
  /** Strata: CHECK found the attachment differs from its ADD result. */
  StateMismatch: 103,
  /** Strata: an internal failure (a bug); the details say where. */
  Internal: 999,
} as const;
export type CniErrorCode = (typeof CniErrorCode)[keyof typeof CniErrorCode];

/** An error that reaches the runtime as the spec's error object. */
export class CniError extends StrataError {
  readonly cniCode: CniErrorCode;
  readonly details: string;
  constructor(cniCode: CniErrorCode, msg: string, details = "", options?: { cause?: unknown }) {
    super(`cni.${cniCode}`, msg, options);
    this.cniCode = cniCode;
    this.details = details;
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return {
      cniVersion,
      code: this.cniCode,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export const invalidConfig = (msg: string, details = "") =>
  new CniError(CniErrorCode.InvalidNetworkConfig, msg, details);
export const invalidEnv = (msg: string, details = "") =>
  new CniError(CniErrorCode.InvalidEnvironment, msg, details);
