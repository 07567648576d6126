package tasklet.net;

/**
 * Internal outcome of a connection attempt that lost the race against another connection
 * between the same two nodes. {@link Transport#connect} never fails with it: it waits for
 * the connection that won (or retries) instead. Immutable: any thread.
 */
final class DuplicateConnectionException extends HandshakeException {
  private static final long serialVersionUID = 1L;
  private final String peerName;

  DuplicateConnectionException(String peerName) {
    this(peerName, "already connected to " + LogText.of(peerName));
  }

  DuplicateConnectionException(String peerName, String message) {
    super(message);
    this.peerName = peerName;
  }

  /** The peer the winning connection goes to. Any thread. */
  String peerName() {
    return peerName;
  }
}
