import { parseClusterCidrs } from "../cluster/cluster-cidrs.js";
import { doctorNode } from "../doctor/doctor-node.js";
import { formatVerdicts } from "../doctor/format.js";
import { currentNetns } from "../kernel/api.js";
import { createIproute2Kernel } from "../kernel/iproute2/index.js";
import { openDatastore } from "./agent-wiring.js";
import { flagCheck, portNumber } from "./options.js";

export interface DoctorCliOptions {
  json?: boolean;
  healthPort: string;
  stateDir?: string;
  underlayDev: string;
  node?: string;
  clusterCidr?: string;
  datastore?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
}

/** `strata doctor`: the checks of the node this runs on; exit 1 when one finds a problem. */
export async function runDoctor(o: DoctorCliOptions): Promise<void> {
  const healthPort = portNumber("--health-port", o.healthPort);
  // As the agent takes it: IPv4, or IPv4,IPv6 on a dual-stack cluster.
  if (o.clusterCidr !== undefined) flagCheck(() => parseClusterCidrs(o.clusterCidr as string));
  const clusterCidr = o.clusterCidr;
  const store = o.datastore
    ? openDatastore(o.datastore, { ca: o.etcdCa, cert: o.etcdCert, key: o.etcdKey })
    : undefined;
  try {
    const report = await doctorNode({
      kernel: createIproute2Kernel(),
      ns: currentNetns,
      healthPort,
      underlayDev: o.underlayDev,
      stateDir: o.stateDir,
      store,
      node: o.node,
      clusterCidr,
    });
    console.log(o.json ? JSON.stringify(report, null, 2) : formatVerdicts(report.verdicts));
    process.exitCode = report.ok ? 0 : 1;
  } finally {
    await store?.close();
  }
}
