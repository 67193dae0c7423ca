import { type KernelOp, offloadFeatureNames } from "../api.js";
import { KernelError, type KernelErrorKind } from "../errors.js";
import { classifyError } from "../iproute2/classify.js";

/** ethtool's name of each feature in `ethtool -k` output. */
export const featureTitle = {
  tso: "tcp-segmentation-offload",
  gso: "generic-segmentation-offload",
  gro: "generic-receive-offload",
} as const;

/** What the addon's ethtoolSet says of a run: how many settings were made, and where it stopped. */
export interface EthtoolSetResult {
  readonly done: number;
  readonly errno: number;
  readonly error: string;
  /** "" when every setting was made; else "netns" | "socket" | "set". */
  readonly stage: string;
  /** For EOPNOTSUPP: the index (in offloadFeatureNames) of the feature fixed for the device. */
  readonly feature: number;
}

/** One device's features for the addon: the name, then -1 (leave), 0 (off) or 1 (on) for tso, gso, gro. */
export interface OffloadSetting {
  readonly opIndex: number;
  readonly dev: string;
  readonly values: readonly (-1 | 0 | 1)[];
}

/** Pure: one setting per link.offload op of a run that changes anything (op indexes are the run's). */
export function offloadSettings(run: readonly KernelOp[]): OffloadSetting[] {
  return run.flatMap((op, opIndex) => {
    if (op.op !== "link.offload") return [];
    const values = offloadFeatureNames.map((f) => (op[f] === undefined ? -1 : op[f] ? 1 : 0));
    return values.every((v) => v === -1) ? [] : [{ opIndex, dev: op.name, values }];
  });
}

/** The addon's argument: each setting flattened. */
export const ethtoolSetArgs = (settings: readonly OffloadSetting[]): (string | number)[] =>
  settings.flatMap((s) => [s.dev, ...s.values]);

const ENODEV = 19;
const EOPNOTSUPP = 95;

/**
 * A failed native setting as a KernelError of the kind the iproute2 driver gives for the same
 * failure, where it runs `nsenter --net=P ethtool -K DEV ...` (the words are those programs' for
 * the same errno, so classifyError sorts them alike): a namespace that cannot be opened is
 * nsenter's; a missing device is ethtool's "No such device" ("not-found"); a change of a feature
 * the device does not let change (fixed) is ethtool's "Could not change any device features"
 * ("failed").
 */
export function offloadError(
  s: OffloadSetting,
  nsPath: string | undefined,
  r: EthtoolSetResult,
  opts: { operation: string; failedOpIndex: number },
): KernelError {
  let detail: string;
  let kind: KernelErrorKind;
  if (r.stage === "netns") {
    detail = `cannot open ${nsPath}: ${r.error}`;
    kind = classifyError(detail);
  } else if (r.stage === "socket") {
    detail = `Cannot get control socket: ${r.error}`;
    kind = classifyError(detail);
  } else if (r.errno === EOPNOTSUPP) {
    const f = offloadFeatureNames[r.feature];
    detail = `Could not change any device features${f ? ` (${featureTitle[f]} is fixed on ${s.dev})` : ""}`;
    kind = "failed";
  } else {
    const words = r.errno === ENODEV ? "No such device" : r.error;
    detail = `${s.dev}: ${words}`;
    kind = classifyError(words);
  }
  return new KernelError(kind, opts.operation, detail, { failedOpIndex: opts.failedOpIndex });
}
