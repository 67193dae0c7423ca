import {
  BgpSpeaker,
  type PeerConfig,
  type SpeakerEvent,
  type SpeakerOptions,
} from "../../src/bgp/speaker/speaker.js";

/** One in-process speaker on its own loopback address, with what it heard. */
export interface SpeakerHarness {
  speaker: BgpSpeaker;
  events: SpeakerEvent[];
  routes: Map<string, string>;
  address: string;
}

/**
 * Speakers in this process, talking over loopback (127.0.0.n: one address per speaker, so each
 * knows the other by address as on a real network). `routerIdNet` keeps suites' ids apart.
 */
export function loopbackSpeakers(routerIdNet: string) {
  const running: BgpSpeaker[] = [];
  const make = async (n: number, o: Partial<SpeakerOptions> = {}): Promise<SpeakerHarness> => {
    const address = `127.0.0.${n}`;
    const events: SpeakerEvent[] = [];
    const routes = new Map<string, string>();
    const speaker = new BgpSpeaker({
      asn: 64512,
      routerId: `${routerIdNet}.${n}`,
      holdTime: 9,
      connectRetrySeconds: 0.2,
      listen: { host: address, port: 0 },
      localAddress: address,
      onEvent: (e) => events.push(e),
      onRoutes: (cs) => {
        for (const c of cs) c.nextHop ? routes.set(c.prefix, c.nextHop) : routes.delete(c.prefix);
      },
      ...o,
    });
    running.push(speaker);
    await speaker.start();
    return { speaker, events, routes, address };
  };
  /** `h` as a peer configuration (same AS, its listening port). */
  const peerOf = (h: SpeakerHarness, extra: Partial<PeerConfig> = {}): PeerConfig => ({
    address: h.address,
    asn: 64512,
    port: h.speaker.port,
    ...extra,
  });
  const stopAll = async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  };
  /** `running` also takes speakers a test makes by hand, so stopAll ends them too. */
  return { make, peerOf, stopAll, running };
}
