import { createIproute2Kernel } from "../../src/kernel/iproute2/index.js";
import { runProgram } from "../../src/process/run-program.js";

/**
 * An iproute2 kernel driver that records every program it starts (argv joined by spaces), for
 * tests that hold another driver wrapped around it to starting none.
 */
export function recordingIproute2Kernel() {
  const programs: string[] = [];
  const kernel = createIproute2Kernel({
    runner: (argv, o) => {
      programs.push(argv.join(" "));
      return runProgram(argv, o);
    },
  });
  return { kernel, programs };
}
