package tasklet.net;

/**
 * One authenticated connection to a peer node, handed to {@link Endpoint#connected}.
 * There is at most one live connection per pair of node names.
 *
 * <p>Frames passed to {@link #send} from one thread reach the peer in that order (and the
 * peer's {@link Endpoint#frame} sees them in that order). Flushes are coalesced: a burst
 * of sends costs few system calls. The peer's identity methods never change; the others
 * are safe from any thread unless their doc says otherwise.
 */
public interface Connection {
  /** The peer's node name, learned in the handshake. Any thread. */
  String peerName();

  /** The peer's incarnation, learned in the handshake. Any thread. */
  int peerIncarnation();

  /** The peer's advertised listen address, {@code host:port}. Any thread. */
  String peerAddress();

  /**
   * Queues one application frame. {@code type} must be in {@code 0x10}-{@code 0x7F} and
   * {@code payload.length + 1} at most the configured {@code maxFrameBytes}, else
   * {@link IllegalArgumentException}. The transport takes {@code payload} over: do not
   * change it afterwards. Never blocks; see {@link #isWritable} for back-pressure.
   *
   * @return false if the connection is closed or closing (the frame is dropped)
   */
  boolean send(int type, byte[] payload);

  /**
   * False while more than the high water mark of bytes wait to be written; true again
   * once they drain below the low water mark. Any thread.
   */
  boolean isWritable();

  /**
   * Runs {@code r} once, on this connection's event loop, as soon as the connection is
   * writable (at once if it is now) or closed. A sender that found {@link #isWritable}
   * false waits for this, then checks {@link #isOpen}. Any thread.
   */
  void whenWritable(Runnable r);

  /** The load figure from the peer's latest heartbeat (-1 before the first). Any thread. */
  long lastPeerLoad();

  /**
   * How many heartbeats (load reports) have arrived from the peer so far. A caller that
   * counts what it placed on the peer since the latest report uses this to tell a new
   * report from an old one, even when the new one carries the same figure. Read it before
   * {@link #lastPeerLoad}: the figure is then from that report or a newer one. Any thread.
   */
  long peerLoadReports();

  /**
   * Stops reading from the peer (inbound flow control): bytes wait in the socket, and the
   * peer eventually sees this connection as not writable. While paused, missing
   * heartbeats do not close the connection. Any thread.
   */
  void pauseReading();

  /** Undoes {@link #pauseReading}. Any thread. */
  void resumeReading();

  /**
   * Closes the connection after the frames already queued, telling the peer
   * {@code reason}; {@link Endpoint#disconnected} follows with it. Idempotent: the first
   * reason wins. Any thread.
   */
  void close(String reason);

  /** True until the connection starts closing. Any thread. */
  boolean isOpen();
}
