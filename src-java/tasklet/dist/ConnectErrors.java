package tasklet.dist;

import io.netty.handler.ssl.NotSslRecordException;
import javax.net.ssl.SSLException;
import tasklet.kernel.Terms;
import tasklet.net.AuthFailedException;
import tasklet.net.HandshakeException;
import tasklet.net.NameClashException;

/**
 * What a failed connect tells the user: the transport's exceptions mapped to
 * the library's errors (:auth-failed, :not-connected), each saying what to
 * do.
 */
final class ConnectErrors {
  private ConnectErrors() {}

  /** The SSLException in {@code t}'s cause chain (16 deep at most: a cause cycle ends too), or null. */
  private static SSLException ssl(Throwable t) {
    for (int i = 0; t != null && i < 16; i++, t = t.getCause()) {
      if (t instanceof SSLException s) return s;
    }
    return null;
  }

  /** The error for a failed connect to {@code address}. */
  static RuntimeException of(Terms terms, String address, Throwable cause) {
    SSLException ssl = ssl(cause);
    if (cause instanceof AuthFailedException) {
      return terms.error("auth-failed", "node at " + address + " refused us: the cookies differ; start both"
          + " nodes with the same :cookie", "address", address);
    }
    if (cause instanceof NameClashException nc) {
      return terms.error("not-connected", "cannot connect to " + address + ": the node there is called :"
          + nc.name() + " like this one (it is this node itself, or two nodes share a name); give every node"
          + " a unique :name", "address", address);
    }
    if (ssl instanceof NotSslRecordException) {
      return terms.error("not-connected", "node at " + address + " does not speak TLS, and this node does;"
          + " start every node with :tls, or none", "address", address);
    }
    if (ssl != null) {
      return terms.error("auth-failed", "the TLS handshake with the node at " + address + " failed ("
          + ssl.getMessage() + "): each node's :truststore must hold the certificate in the other's"
          + " :keystore", "address", address);
    }
    return terms.error("not-connected", "cannot connect to " + address + ": "
        + (cause == null ? null : cause.getMessage()) + "; check that a node listens there"
        + (cause instanceof HandshakeException ? ", and that both nodes use :tls or neither" : ""),
        "address", address);
  }
}
