/**
 * Routes Strata installs carry this routing protocol id, so every writer of routes (the agent's
 * backends, `strata bgp-speaker --install-routes`) can tell its own routes from anyone else's and
 * remove stale ones without ever flushing a table. (Values 1-4 are kernel/boot/static/redirect;
 * higher ids are free for routing daemons — BIRD uses 12, Calico 80.)
 */
export const strataRouteProto = "147";
