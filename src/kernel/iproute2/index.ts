export { runProgram as spawnProgram } from "../../process/run-program.js";
export { createIproute2Kernel, type Iproute2Options } from "./driver.js";
