// Standalone executable of the `strata-ipam` CNI plugin.
import { runPluginProcess } from "../../cni/process-main.js";
import { dispatch } from "../../cni/skeleton.js";
import { createIpamPlugin } from "./plugin.js";

const plugin = createIpamPlugin();
await runPluginProcess((inv) => dispatch(plugin, inv));
