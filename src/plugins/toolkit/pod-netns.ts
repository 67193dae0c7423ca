import { CniError, CniErrorCode } from "../../cni/errors.js";
import type { CniRequest } from "../../cni/skeleton.js";
import { type Netns, netnsAtPath } from "../../kernel/api.js";
import { pathExists } from "../../process/run-program.js";

/**
 * The pod's network namespace for ADD: CNI_NETNS must exist, else the spec's code 3 (unknown
 * container) before anything is touched, so nothing needs undoing.
 */
export async function podNetnsForAdd(req: CniRequest<unknown>): Promise<Netns> {
  if (!(await pathExists(req.netns))) {
    throw new CniError(
      CniErrorCode.UnknownContainer,
      `network namespace ${req.netns} does not exist`,
      "the runtime must create the pod's namespace before ADD",
    );
  }
  return netnsAtPath(req.netns);
}
