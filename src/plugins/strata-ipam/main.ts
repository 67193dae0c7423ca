// The `strata-ipam` executable: process env and stdin in, result or error object out.
import { runPluginProcess } from "../../cni/process-main.js";
import { dispatch } from "../../cni/skeleton.js";
import { ipamPlugin } from "./plugin.js";

await runPluginProcess((inv) => dispatch(ipamPlugin, inv));
