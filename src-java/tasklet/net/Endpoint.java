package tasklet.net;

/**
 * What the layer above the transport (the node) supplies: it is told of connections,
 * frames and losses, and it reports its load for the heartbeats.
 *
 * <p>Threads: {@code connected}, {@code frame} and {@code disconnected} for one
 * connection are called one at a time, in that order, on that connection's event-loop
 * thread; they must not block (hand long work to other threads). Different connections
 * may be served by different threads at once. An exception thrown by a callback is logged
 * and otherwise ignored.
 */
public interface Endpoint {
  /**
   * A connection has passed the handshake and is the one live connection to its peer.
   * Called once per connection, before any {@link #frame} for it. Event loop of {@code c}.
   */
  void connected(Connection c);

  /**
   * An application frame ({@code type} in {@code 0x10}-{@code 0x7F}) arrived on
   * {@code c}; frames of one connection arrive in the order the peer sent them. The
   * callee owns {@code payload}. Event loop of {@code c}.
   */
  void frame(Connection c, int type, byte[] payload);

  /**
   * A connection that was reported {@link #connected} is gone: closed by either side,
   * broken, or silent for two heartbeat periods. Called exactly once per such connection,
   * after its last {@link #frame}. Event loop of {@code c}.
   */
  void disconnected(Connection c, String reason);

  /**
   * This node's load figure, sent to every peer with each heartbeat (e.g. the number of
   * runnable tasklets). Must be cheap and thread-safe: any event-loop thread.
   */
  long load();
}
