package tasklet.net;

/**
 * The peer did not prove the shared cookie, or refused ours: the two nodes were started
 * with different cookies. The node layer maps it to {@code :tasklet/error :auth-failed}.
 * Immutable: any thread.
 */
public final class AuthFailedException extends HandshakeException {
  private static final long serialVersionUID = 1L;

  /** An exception whose message names the peer and says what to check. */
  public AuthFailedException(String message) {
    super(message);
  }
}
