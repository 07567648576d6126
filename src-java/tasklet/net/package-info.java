/**
 * The TCP transport between tasklet nodes: typed opaque frames between named,
 * authenticated nodes, on Netty. It knows nothing of pids, messages or Clojure; the node
 * layer above implements {@link tasklet.net.Endpoint} and sends through
 * {@link tasklet.net.Connection}.
 *
 * <h2>Use</h2>
 * <pre>{@code
 *   Transport t = Transport.start(Config.builder("alpha", cookie).port(0).build(), endpoint);
 *   Connection c = t.connect("127.0.0.1", 4002).get();   // after the handshake
 *   c.send(0x10, bytes);                                  // any thread, ordered
 *   t.close();
 * }</pre>
 *
 * <h2>Wire protocol (version 3)</h2>
 * Every frame is {@code [u32 length][u8 type][payload]}, big-endian, {@code length}
 * counting the type byte and the payload, at most {@code maxFrameBytes} (4096 until the
 * peer has proved the cookie).
 * <table>
 *   <caption>Frame types</caption>
 *   <tr><th>type</th><th>name</th><th>payload</th></tr>
 *   <tr><td>0x01</td><td>HELLO</td><td>{@code [u8 version][u16 len][name][i32 incarnation]
 *       [u16 len][host:port][32-byte nonce]}</td></tr>
 *   <tr><td>0x02</td><td>PROOF</td><td>HMAC-SHA256(cookie, lp(role) || lp(initiator HELLO) ||
 *       lp(acceptor HELLO) || lp(TLS binding)), see {@link tasklet.net.Handshake}</td></tr>
 *   <tr><td>0x03</td><td>ACCEPT</td><td>empty: the deciding side keeps this connection</td></tr>
 *   <tr><td>0x04</td><td>TICK</td><td>{@code [i64 load]}, every {@code tickMs}</td></tr>
 *   <tr><td>0x05</td><td>CLOSE</td><td>{@code [u8 code][UTF-8 reason]}; codes 0 normal,
 *       1 auth failed, 2 duplicate, 3 protocol error</td></tr>
 *   <tr><td>0x06-0x0F</td><td>reserved</td><td>unknown today: closes the connection</td></tr>
 *   <tr><td>0x10-0x7F</td><td>application</td><td>opaque, passed to the endpoint</td></tr>
 *   <tr><td>other</td><td>unknown</td><td>closes the connection</td></tr>
 * </table>
 *
 * <h2>Handshake</h2>
 * Both sides send HELLO at once (after TLS when configured); the connecting side sends its
 * PROOF on the acceptor's HELLO, and the accepting side sends its own PROOF only once it
 * has checked that one (so a listening node is no signing oracle and gives a stranger
 * nothing to test cookie guesses against); a failed check closes with CLOSE code 1, and
 * the connecting side's future fails with {@link tasklet.net.AuthFailedException}. A peer
 * named like a live connection of another incarnation is refused (CLOSE code 2). Inbound
 * connections still in the handshake are capped in total and per source address. Then the
 * node whose name sorts lower decides whether this connection is the pair's one live
 * connection ({@link tasklet.net.Peers}) and sends ACCEPT, or CLOSE code 2 when an
 * earlier connection to the same peer incarnation is open. Only then is the connection
 * reported to the endpoint and may carry application frames; any application frame
 * earlier closes it. The whole handshake must finish within {@code handshakeTimeoutMs}.
 *
 * <h2>Threads</h2>
 * Each connection lives on one Netty event-loop thread ("event loop" in the method docs;
 * threads are named {@code tasklet-net-<node>-*}). Every public method's doc says who may
 * call it: "Any thread." or "Event loop only." {@code Endpoint.connected} runs on the
 * connection's event loop; frames and the loss report go through the connection's
 * {@link tasklet.net.Inbox} (in order; large frames on the inbound pool, with bounds that
 * stop reading a socket whose frames are not being delivered). None may block long.
 *
 * <h2>Logging</h2>
 * {@code System.getLogger("tasklet.net")}: WARNING for refused peers and protocol errors
 * (with the reason; peer text escaped and cut by {@link tasklet.net.LogText}; refusals
 * before authentication rate-limited), INFO for lost connections, DEBUG for the rest.
 */
package tasklet.net;
