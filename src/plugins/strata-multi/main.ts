// Standalone executable of the `strata-multi` meta plugin (what runs when no agent is listening).
import { runPluginProcess } from "../../cni/process-main.js";
import { createIproute2Kernel } from "../../kernel/iproute2/index.js";
import { composePlugins } from "../compose.js";

await runPluginProcess(composePlugins(createIproute2Kernel())["strata-multi"]);
