/**
 * What bringing sessions up has cost a speaker since it started: TCP connections made and taken,
 * and why some of them were wasted. Ideally every session costs one connection (issue 16: a
 * 100-node mesh made 3.4 dials and 2.5 accepts per session, each a TCP-MD5 handshake).
 */
export interface ConnectionCounts {
  /** TCP connects started (each one a kernel handshake). */
  dials: number;
  /** Connects that failed before the handshake completed (refused: the peer does not listen yet). */
  dialsFailed: number;
  /** Connects still in flight when the connect-retry timer fired: dropped and made again. */
  dialsAbandoned: number;
  /** Inbound connections taken from configured peers. */
  accepted: number;
  /** Sessions that reached Established. */
  established: number;
  /** Connections closed by collision resolution (RFC 4271 §6.8), by what they collided with. */
  collisions: {
    /** An OPEN while the session was already Established on another connection. */
    established: number;
    /** Two connections in the same direction (a stale one and its replacement). */
    sameDirection: number;
    /** One connection each way: both sides dialled. */
    crossed: number;
  };
  /** Redials set after an outbound connection closed without a session (or a session ended). */
  redials: number;
  /** dialNow calls for a configured peer without a session (its agent came alive). */
  dialNow: number;
  /** First dials held until the peer is known to listen (its agent alive). */
  held: number;
}

export const noConnections = (): ConnectionCounts => ({
  dials: 0,
  dialsFailed: 0,
  dialsAbandoned: 0,
  accepted: 0,
  established: 0,
  collisions: { established: 0, sameDirection: 0, crossed: 0 },
  redials: 0,
  dialNow: 0,
  held: 0,
});
