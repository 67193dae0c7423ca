import { resolve } from "node:path";

/** Where `npm run build` puts the compiled program (dist/bpf/, from dist/src/kernel/bpf-tunnel/). */
export const builtTunnelObjectPath = resolve(import.meta.dirname, "../../../bpf/tunnel.bpf.o");
