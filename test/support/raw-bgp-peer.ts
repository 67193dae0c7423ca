import { connect, type Socket } from "node:net";
import { endOfRibFamily, type Family } from "../../src/bgp/codec/end-of-rib.js";
import { BgpFrameParser } from "../../src/bgp/codec/framing.js";
import { decodeMessage, encodeMessage } from "../../src/bgp/codec/messages.js";
import type { Capability, UpdateMessage } from "../../src/bgp/codec/types.js";
import { eventually } from "../../src/common/eventually.js";

/**
 * A BGP peer made of bytes: it opens a session to a speaker, sends exactly the UPDATEs a test
 * writes (in one TCP write, as a peer's burst arrives), and keeps every UPDATE it receives, decoded,
 * with its size on the wire — to see how a speaker packs what it sends.
 */
export class RawBgpPeer {
  readonly received: { readonly update: UpdateMessage; readonly octets: number }[] = [];
  /** End-of-RIB markers received (RFC 4724 §2), kept apart from the UPDATEs that carry routes. */
  readonly endOfRib: Family[] = [];
  #socket: Socket | undefined;
  #established = false;
  readonly #ctx = { fourOctetAs: true };

  constructor(
    readonly address: string,
    readonly asn: number,
    /** Capabilities beside 4-octet AS (IPv4 unicast alone when absent). */
    readonly capabilities: readonly Capability[] = [{ kind: "multiprotocol", afi: 1, safi: 1 }],
  ) {}

  /** Connect from `address` to the speaker and wait until the session is Established. */
  async open(host: string, port: number): Promise<void> {
    const socket = connect({ host, port, localAddress: this.address });
    this.#socket = socket;
    const parser = new BgpFrameParser();
    socket.on("connect", () =>
      socket.write(
        encodeMessage(
          {
            type: "open",
            version: 4,
            asn: this.asn,
            holdTime: 90,
            bgpId: this.address,
            capabilities: [...this.capabilities, { kind: "four-octet-as", asn: this.asn }],
          },
          this.#ctx,
        ),
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      for (const f of parser.push(chunk)) {
        const m = decodeMessage(f, this.#ctx);
        if (m.type === "open") socket.write(encodeMessage({ type: "keepalive" }, this.#ctx));
        else if (m.type === "keepalive") this.#established = true;
        else if (m.type === "update") {
          const eor = endOfRibFamily(m);
          if (eor) this.endOfRib.push(eor);
          else this.received.push({ update: m, octets: f.length });
        }
      }
    });
    socket.on("error", () => {});
    await eventually(() => this.#established, `session of ${this.address} established`);
  }

  /** Write these UPDATEs in one go. */
  send(updates: readonly UpdateMessage[]): void {
    this.#socket?.write(Buffer.concat(updates.map((u) => encodeMessage(u, this.#ctx))));
  }

  /** Prefixes announced to this peer and not withdrawn since, with the attributes of the last announcement. */
  table(): Map<string, UpdateMessage["attributes"]> {
    const t = new Map<string, UpdateMessage["attributes"]>();
    for (const { update } of this.received) {
      for (const p of update.withdrawn) t.delete(p);
      for (const p of update.nlri) t.set(p, update.attributes);
    }
    return t;
  }

  close(): void {
    this.#socket?.destroy();
  }
}
