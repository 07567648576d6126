package tasklet.net;

import io.netty.handler.ssl.SslHandler;
import java.io.File;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;

/**
 * Mutual TLS for node connections, on the JDK's own {@link SSLEngine}.
 *
 * <p>Both sides present a certificate from their key store and check the peer's against
 * their trust store: the accepting side requires a client certificate. Host names are not
 * verified (nodes are identified by the trust store and then by the cookie handshake,
 * which runs inside TLS). Immutable: any thread.
 */
public final class Tls {
  private final SSLContext context;

  private Tls(SSLContext context) {
    this.context = context;
  }

  /**
   * TLS from a ready {@link SSLContext} whose key managers hold this node's certificate and
   * whose trust managers accept the peers'. Any thread.
   */
  public static Tls of(SSLContext context) {
    if (context == null) {
      throw new IllegalArgumentException("SSLContext must not be null");
    }
    return new Tls(context);
  }

  /**
   * TLS from key and trust store files (PKCS12 or JKS, detected from the file).
   *
   * @throws IOException if a file cannot be read or a password is wrong
   * @throws GeneralSecurityException if a store is unusable
   */
  public static Tls fromKeyStores(String keyStorePath, char[] keyStorePassword,
                                  String trustStorePath, char[] trustStorePassword)
      throws IOException, GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance(new File(keyStorePath), keyStorePassword);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, keyStorePassword);
    KeyStore ts = KeyStore.getInstance(new File(trustStorePath), trustStorePassword);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return new Tls(ctx);
  }

  /** The context engines are made from. Any thread. */
  public SSLContext context() {
    return context;
  }

  /** A fresh handler for one channel; {@code client} for the connecting side. Any thread. */
  SslHandler newHandler(boolean client) {
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(client);
    if (!client) {
      engine.setNeedClientAuth(true);
    }
    return new SslHandler(engine);
  }
}
