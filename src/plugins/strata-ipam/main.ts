// Standalone executable of the `strata-ipam` CNI plugin.
import { runPluginProcess } from "../../cni/process-main.js";
import { dispatch } from "../../cni/skeleton.js";
import { ipamPlugin } from "./plugin.js";

await runPluginProcess((inv) => dispatch(ipamPlugin, inv));
