// The `strata-ipam` executable: process env and stdin in, result or error object out.
import { runPluginProcess } from "../../cni/process-main.js";
import { pluginRunner } from "../../cni/skeleton.js";
import { ipamPlugin } from "./plugin.js";

await runPluginProcess(pluginRunner(ipamPlugin));
