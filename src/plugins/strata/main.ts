// Standalone executable of the `strata` CNI plugin (what runs when no agent is listening).
import { runPluginProcess } from "../../cni/process-main.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { composePlugins } from "../compose.js";

const plugins = composePlugins(createIproute2Kernel(), {
  crashAfterStep: process.env.STRATA_FAULT_CRASH_AFTER,
});
await runPluginProcess(plugins.strata);
