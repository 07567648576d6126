package tasklet.net;

import java.io.IOException;

/**
 * A connection could not be established: the peer broke the handshake protocol, spoke
 * another version, was this node itself, closed the connection, or did not finish in
 * time. Connect futures fail with it (or with {@link AuthFailedException}, a subclass,
 * when the cookies differ). Immutable: any thread.
 */
public class HandshakeException extends IOException {
  private static final long serialVersionUID = 1L;

  /** An exception with a message that says what went wrong. */
  public HandshakeException(String message) {
    super(message);
  }

  /** An exception with a message and the cause (e.g. a TLS failure). */
  public HandshakeException(String message, Throwable cause) {
    super(message, cause);
  }
}
