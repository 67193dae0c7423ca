// The `strata-cluster-ipam` executable: process env and stdin in, result or error object out.
import { runPluginProcess } from "../../cni/process-main.js";
import { pluginRunner } from "../../cni/skeleton.js";
import { openDatastoreUrl } from "../../datastore/datastore-url.js";
import { createClusterIpamPlugin } from "./plugin.js";

await runPluginProcess(pluginRunner(createClusterIpamPlugin({ openStore: openDatastoreUrl })));
