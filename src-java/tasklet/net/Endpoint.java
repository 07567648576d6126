package tasklet.net;

/**
 * What the layer above the transport (the node) supplies: it is told of connections,
 * frames and losses, and it reports its load for the heartbeats.
 *
 * <p>Threads: {@code connected}, {@code frame} and {@code disconnected} for one
 * connection are called one at a time, in that order: {@code connected} on that
 * connection's event-loop thread, {@code frame} and {@code disconnected} on a thread of
 * the transport's inbound pool (so decoding a payload never holds up the event loop and
 * its heartbeats; see {@link Inbox} for the bounds on what waits there). Blocking in
 * {@code frame} holds up that connection only (it stops being read when its backlog is
 * full), and takes a thread of a small pool: keep it short. Different connections may be
 * served by different threads at once. An exception thrown by a callback is logged and
 * otherwise ignored.
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
   * callee owns {@code payload}. An inbound-pool thread (on an unbound transport, the
   * event loop).
   */
  void frame(Connection c, int type, byte[] payload);

  /**
   * A connection that was reported {@link #connected} is gone: closed by either side,
   * broken, or silent for two heartbeat periods. Called exactly once per such connection,
   * after its last {@link #frame}. Same thread rules as {@link #frame}.
   */
  void disconnected(Connection c, String reason);

  /**
   * The end of a run of {@link #frame} calls on this thread (one socket read's frames, or
   * one drain of a connection's backlog): what the callee deferred per frame (waking a
   * receiver once for many messages) it must do now. Called on the thread that called
   * {@code frame}, after its last frame of the run, before that thread waits for anything.
   */
  default void framesDone() {}

  /**
   * This node's load figure, sent to every peer with each heartbeat (e.g. the number of
   * runnable tasklets). Must be cheap and thread-safe: any event-loop thread.
   */
  long load();
}
