import { invalidEnv } from "./errors.js";

/** The K8S_POD_* keys kubelet/CRI runtimes put in CNI_ARGS, plus anything else passed. */
export interface CniArgs {
  readonly ignoreUnknown: boolean;
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly podInfraContainerId?: string;
  readonly podUid?: string;
  readonly all: Readonly<Record<string, string>>;
}

/** Parse CNI_ARGS: "K1=V1;K2=V2" (spec §"Parameters"). Empty pairs are skipped. */
export function parseCniArgs(raw: string | undefined): CniArgs {
  const all: Record<string, string> = {};
  for (const pair of (raw ?? "").split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw invalidEnv(`CNI_ARGS entry "${pair}" is not KEY=VALUE`, "CNI_ARGS must be K1=V1;K2=V2");
    all[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const ignore = (all.IgnoreUnknown ?? "").toLowerCase();
  return {
    ignoreUnknown: ignore === "1" || ignore === "true",
    podNamespace: all.K8S_POD_NAMESPACE,
    podName: all.K8S_POD_NAME,
    podInfraContainerId: all.K8S_POD_INFRA_CONTAINER_ID,
    podUid: all.K8S_POD_UID,
    all,
  };
}
