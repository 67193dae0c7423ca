import { type KernelOp, offloadFeatureNames } from "../api.js";
import { KernelError, type KernelErrorKind } from "../errors.js";
import { classifyError } from "../iproute2/classify.js";

/** The legacy SIOCETHTOOL set command of each feature (struct ethtool_value; linux/ethtool.h). */
export const ethtoolSetCommand = { tso: 0x1f, gso: 0x24, gro: 0x2c } as const;

/** ethtool's name of each feature in `ethtool -k` output. */
export const featureTitle = {
  tso: "tcp-segmentation-offload",
  gso: "generic-segmentation-offload",
  gro: "generic-receive-offload",
} as const;

/** What the addon's ethtoolSet says of a run: how many settings took, and where it stopped. */
export interface EthtoolSetResult {
  readonly done: number;
  readonly errno: number;
  readonly error: string;
  /** "" when every setting was made; else "netns" | "socket" | "set". */
  readonly stage: string;
}

/** One ioctl's worth: a device, a set command, 0 or 1; with the op and feature it carries. */
export interface OffloadSetting {
  readonly opIndex: number;
  readonly feature: (typeof offloadFeatureNames)[number];
  readonly dev: string;
  readonly cmd: number;
  readonly value: 0 | 1;
}

/** Pure: the settings of a run of link.offload ops, in the order `ethtool -K` is given them. */
export function offloadSettings(run: readonly KernelOp[]): OffloadSetting[] {
  return run.flatMap((op, opIndex) =>
    op.op !== "link.offload"
      ? []
      : offloadFeatureNames.flatMap((feature) => {
          const on = op[feature];
          return on === undefined
            ? []
            : [
                {
                  opIndex,
                  feature,
                  dev: op.name,
                  cmd: ethtoolSetCommand[feature],
                  value: on ? 1 : 0,
                } as const,
              ];
        }),
  );
}

const ENODEV = 19;
const EOPNOTSUPP = 95;

/**
 * A failed native setting as a KernelError of the kind the iproute2 driver gives for the same
 * failure, where it runs `nsenter --net=P ethtool -K DEV ...` (the words are those programs' for
 * the same errno, so classifyError sorts them alike): a namespace that cannot be opened is
 * nsenter's; a missing device is ethtool's "No such device" ("not-found"); a feature the device
 * does not let change (EOPNOTSUPP from the ioctl: fixed) is ethtool's "Could not change any device
 * features" ("failed").
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
    detail = `Could not change any device features (${featureTitle[s.feature]} is fixed on ${s.dev})`;
    kind = "failed";
  } else {
    const words = r.errno === ENODEV ? "No such device" : r.error;
    detail = `${s.dev}: ${words}`;
    kind = classifyError(words);
  }
  return new KernelError(kind, opts.operation, detail, { failedOpIndex: opts.failedOpIndex });
}
