import type { Prefix } from "./prefix.js";

export const MessageType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const;

export type Capability =
  | { readonly kind: "multiprotocol"; readonly afi: number; readonly safi: number }
  | { readonly kind: "route-refresh" }
  | { readonly kind: "four-octet-as"; readonly asn: number }
  | {
      readonly kind: "graceful-restart";
      /** R bit: the sender is restarting (RFC 4724 §3). */
      readonly restarting: boolean;
      /** N bit: the sender handles NOTIFICATIONs gracefully (RFC 8538); decoded, never acted on. */
      readonly notification?: boolean;
      /** Seconds the sender asks its routes be kept after the session drops (12 bits: 0..4095). */
      readonly restartTime: number;
      readonly families: readonly {
        readonly afi: number;
        readonly safi: number;
        readonly forwarding: boolean;
      }[];
    }
  | {
      /** RFC 8950 (code 5): NLRI of `afi`/`safi` may carry a next hop of `nextHopAfi`. */
      readonly kind: "extended-next-hop";
      readonly entries: readonly {
        readonly afi: number;
        readonly safi: number;
        readonly nextHopAfi: number;
      }[];
    }
  | { readonly kind: "unknown"; readonly code: number; readonly data: Uint8Array };

export interface OpenMessage {
  readonly type: "open";
  readonly version: number;
  /** The real AS (the 4-octet capability's when present). */
  readonly asn: number;
  readonly holdTime: number;
  readonly bgpId: string;
  readonly capabilities: readonly Capability[];
}

export interface AsPathSegment {
  readonly type: "set" | "sequence";
  readonly asns: readonly number[];
}

export interface PathAttributes {
  readonly origin?: "igp" | "egp" | "incomplete";
  readonly asPath?: readonly AsPathSegment[];
  readonly as4Path?: readonly AsPathSegment[];
  readonly nextHop?: string;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: { readonly asn: number; readonly address: string };
  readonly as4Aggregator?: { readonly asn: number; readonly address: string };
  readonly communities?: readonly number[];
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
  readonly mpReach?: {
    readonly afi: number;
    readonly safi: number;
    readonly nextHops: readonly string[];
    readonly nlri: readonly Prefix[];
  };
  readonly mpUnreach?: { readonly afi: number; readonly safi: number; readonly withdrawn: readonly Prefix[] };
  /**
   * Unrecognised optional transitive attributes, kept to pass on with Partial set (RFC 4271 §9;
   * non-transitive ones are quietly ignored on receipt and never sent).
   */
  readonly unknown?: readonly { readonly flags: number; readonly code: number; readonly data: Uint8Array }[];
}

/** An RFC 7606 outcome the decoder applied instead of resetting the session. */
export interface ErrorOutcome {
  readonly action: "treat-as-withdraw" | "attribute-discard";
  readonly attribute: number;
  readonly subcode: number;
  readonly reason: string;
}

export interface UpdateMessage {
  readonly type: "update";
  readonly withdrawn: readonly Prefix[];
  readonly attributes: PathAttributes;
  readonly nlri: readonly Prefix[];
  /** Set by the decoder: recoverable errors it found (empty when the message was clean). */
  readonly outcomes?: readonly ErrorOutcome[];
}

export interface NotificationMessage {
  readonly type: "notification";
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export type BgpMessage =
  | OpenMessage
  | UpdateMessage
  | NotificationMessage
  | { readonly type: "keepalive" }
  | { readonly type: "route-refresh"; readonly afi: number; readonly safi: number };

/**
 * Session facts that change encodings: 4-octet AS numbers in AS_PATH/AGGREGATOR (RFC 6793; without
 * them AS4_PATH/AS4_AGGREGATOR carry the real path), and the receiving speaker's own addresses,
 * which a received NEXT_HOP must not be (RFC 4271 §6.3).
 */
export interface CodecContext {
  readonly fourOctetAs: boolean;
  readonly ownAddresses?: readonly string[];
  /**
   * One session's decoded attribute sections by their bytes (a memo: results are the same with or
   * without it). A peer that sends one prefix per UPDATE repeats the same attributes thousands of
   * times; they are decoded and checked once, and every repeat yields the same object.
   */
  readonly decodedAttributes?: DecodedAttributes;
}

/** See CodecContext.decodedAttributes; make one with `new Map()` per session. */
export type DecodedAttributes = Map<
  string,
  { readonly attributes: PathAttributes; readonly outcomes?: readonly ErrorOutcome[] }
>;
