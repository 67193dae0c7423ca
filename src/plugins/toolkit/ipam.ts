import { type DelegateOptions, delegateAdd, runDelegate } from "../../cni/delegate.js";
import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniIpConfig, CniResult } from "../../cni/result.js";
import type { CniRequest } from "../../cni/skeleton.js";

/**
 * A main plugin's IPAM (its configuration's `ipam.type`), every verb passed on as delegation
 * requires (CNI 1.1.0: ADD, DEL, CHECK, GC and STATUS all reach the delegate). A type linked into
 * this process (`strata-ipam`) is called in-process; any other is executed from CNI_PATH.
 */
export interface Ipam {
  readonly type: string;
  allocate(req: CniRequest<unknown>): Promise<CniResult>;
  /** DEL: also the undo of `allocate`; succeeds when nothing is held. */
  release(req: CniRequest<unknown>): Promise<void>;
  check(req: CniRequest<unknown>): Promise<void>;
  gc(req: CniRequest<unknown>): Promise<void>;
  status(req: CniRequest<unknown>): Promise<void>;
}

export function ipamDelegate(type: string, opts: DelegateOptions = {}): Ipam {
  return {
    type,
    allocate: (req) => delegateAdd(type, req, opts),
    release: (req) => runDelegate(type, "DEL", req, opts),
    check: (req) => runDelegate(type, "CHECK", req, opts),
    gc: (req) => runDelegate(type, "GC", req, opts),
    status: (req) => runDelegate(type, "STATUS", req, opts),
  };
}

/** The addresses of an IPAM result; none is a configuration error (code 7: the ranges are wrong). */
export function allocatedAddresses(result: CniResult, type: string): CniIpConfig[] {
  if (!result.ips || result.ips.length === 0) {
    throw new CniError(CniErrorCode.InvalidNetworkConfig, `IPAM plugin ${type} returned no address`);
  }
  return result.ips;
}
