export { createIproute2Kernel, type Iproute2Options } from "./driver.js";
export { run as spawnProgram } from "./run.js";
