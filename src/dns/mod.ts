/**
 * cairn's DNS interface, answering as Consul's does on port 8600: `DnsServer` (the UDP and TCP
 * shell), `answerDnsQuery` (the pure answerer), `encodeDnsResponse` (the compressing encoder) and
 * `DnsLookup`, the narrow catalog view the agent implements for them.
 *
 * @example
 * ```ts
 * import { DnsServer } from "./mod.ts";
 *
 * const server = await DnsServer.start(runtime, lookup, { host: "127.0.0.1", port: 8600 });
 * await server.close();
 * ```
 *
 * @module
 */

export type { DnsLookup, DnsNode, DnsServiceInstance } from "./dns_lookup.ts";
export {
  answerDnsQuery,
  type DnsAnswerOptions,
  type DnsRandom,
  DnsRcode,
  udpAnswerLimitDefault,
  udpAnswerLimitMax,
} from "./dns_answer.ts";
export { encodeDnsResponse } from "./dns_encode.ts";
export {
  type DnsRuntime,
  DnsServer,
  type DnsServerCounters,
  type DnsServerOptions,
  tcpBufferedBytesMaxDefault,
  tcpConnectionsMaxDefault,
  tcpIdleTimeoutMsDefault,
} from "./dns_server.ts";
