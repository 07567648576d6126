package tasklet.net;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SSLKeyException;
import javax.net.ssl.SSLSession;

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

  /** The exporter label of the handshake's channel binding (RFC 5705 / RFC 8446 7.5). */
  static final String EXPORTER_LABEL = "EXPORTER-tasklet-handshake";

  /**
   * The channel binding of a finished TLS session, which the cookie proofs cover (see
   * {@link Handshake}): 32 bytes of keying material exported from the session, the same on
   * both ends of one TLS connection and different on each leg of a relay. Where the
   * session cannot export (TLS 1.2 without extended master secret), the SHA-256 of both
   * certificates, the initiator's first: a relay with a certificate of its own then still
   * fails, since each side sees the relay's certificate where the other sees its own.
   * Event loop of the channel, after the TLS handshake.
   */
  static byte[] binding(SSLEngine engine, boolean initiator) {
    SSLSession session = engine.getSession();
    if (session instanceof ExtendedSSLSession ext) {
      try {
        byte[] b = ext.exportKeyingMaterialData(EXPORTER_LABEL, new byte[0], 32);
        if (b != null) {
          return b;
        }
      } catch (SSLKeyException | UnsupportedOperationException e) {
        // fall through to the certificates
      }
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] own = encoded(session.getLocalCertificates());
      byte[] peer = encoded(session.getPeerCertificates());
      byte[] first = initiator ? own : peer;
      byte[] second = initiator ? peer : own;
      sha.update(ByteBuffer.allocate(4).putInt(first.length).array());
      sha.update(first);
      sha.update(second);
      return sha.digest();
    } catch (GeneralSecurityException | IOException e) { // SSLPeerUnverifiedException
      throw new IllegalStateException("cannot bind the handshake to the TLS session", e);
    }
  }

  private static byte[] encoded(Certificate[] chain) throws CertificateEncodingException {
    return chain == null || chain.length == 0 ? new byte[0] : chain[0].getEncoded();
  }
}
