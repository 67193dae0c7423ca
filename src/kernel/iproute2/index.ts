export { createIproute2Kernel, type Iproute2Options } from "./driver.js";
