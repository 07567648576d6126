package tasklet.net;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The handshake's wire values and its one piece of cryptography.
 *
 * <p>Each side sends a {@code HELLO} (see {@link Hello}) as soon as the channel is up
 * (after TLS, if any), and answers the peer's {@code HELLO} with a {@code PROOF}:
 * <pre>
 *   proof = HMAC-SHA256(cookie, peerNonce || lp(proverName) || lp(verifierName))
 * </pre>
 * where {@code lp(s)} is the UTF-8 bytes of {@code s} behind a 2-byte big-endian length
 * (so that {@code "ab"+"c"} and {@code "a"+"bc"} differ). The cookie never crosses the
 * wire; a fresh 32-byte nonce per connection stops replays; putting the prover's name first
 * stops a peer from reflecting our own proof back at us. {@link Session} runs the protocol.
 *
 * <p>All methods are pure (or use a thread-safe {@link SecureRandom}): any thread.
 */
public final class Handshake {
  /** Protocol version carried in every HELLO; a peer with another version is refused. */
  public static final int VERSION = 1;
  /** Bytes in a nonce. */
  public static final int NONCE_BYTES = 32;
  /** Bytes in a proof (HMAC-SHA256). */
  public static final int PROOF_BYTES = 32;
  /** Longest node name or address, in UTF-8 bytes. */
  public static final int MAX_STRING_BYTES = 1024;

  private static final SecureRandom RANDOM = new SecureRandom();

  private Handshake() {}

  /**
   * The contents of a HELLO frame.
   *
   * @param name        the sender's node name
   * @param incarnation the sender's incarnation (changes each time the node restarts)
   * @param address     the sender's advertised listen address, {@code host:port}
   * @param nonce       {@link #NONCE_BYTES} random bytes, fresh for this connection
   */
  public record Hello(String name, long incarnation, String address, byte[] nonce) {
    /** The payload: {@code [u8 version][lp name][i64 incarnation][lp address][nonce]}. */
    public byte[] encode() {
      byte[] n = utf8(name);
      byte[] a = utf8(address);
      ByteBuffer b = ByteBuffer.allocate(1 + 2 + n.length + 8 + 2 + a.length + NONCE_BYTES);
      b.put((byte) VERSION).putShort((short) n.length).put(n).putLong(incarnation);
      b.putShort((short) a.length).put(a).put(nonce);
      return b.array();
    }

    /**
     * Parses a HELLO payload.
     *
     * @throws HandshakeException if it is malformed or of another protocol version
     */
    public static Hello decode(byte[] payload) throws HandshakeException {
      try {
        ByteBuffer b = ByteBuffer.wrap(payload);
        int version = b.get() & 0xFF;
        if (version != VERSION) {
          throw new HandshakeException("peer speaks protocol version " + version
              + ", this node speaks " + VERSION);
        }
        String name = readString(b);
        long incarnation = b.getLong();
        String address = readString(b);
        byte[] nonce = new byte[NONCE_BYTES];
        b.get(nonce);
        if (b.hasRemaining() || name.isEmpty()) {
          throw new HandshakeException("malformed HELLO");
        }
        return new Hello(name, incarnation, address, nonce);
      } catch (RuntimeException e) { // BufferUnderflowException and friends
        throw new HandshakeException("malformed HELLO");
      }
    }
  }

  /** A fresh random nonce. Any thread. */
  public static byte[] nonce() {
    byte[] n = new byte[NONCE_BYTES];
    RANDOM.nextBytes(n);
    return n;
  }

  /**
   * The proof that {@code prover} knows {@code cookie}, answering {@code verifier}'s nonce.
   * Any thread.
   */
  public static byte[] proof(byte[] cookie, byte[] verifierNonce, String prover, String verifier) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(cookie, "HmacSHA256"));
      mac.update(verifierNonce);
      mac.update(lengthPrefixed(prover));
      mac.update(lengthPrefixed(verifier));
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e); // every JDK has it
    }
  }

  /** Constant-time comparison of a received proof with the expected one. Any thread. */
  public static boolean verify(byte[] expected, byte[] received) {
    return MessageDigest.isEqual(expected, received);
  }

  static byte[] utf8(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > MAX_STRING_BYTES) {
      throw new IllegalArgumentException("longer than " + MAX_STRING_BYTES + " bytes: " + s);
    }
    return b;
  }

  private static byte[] lengthPrefixed(String s) {
    byte[] b = utf8(s);
    return ByteBuffer.allocate(2 + b.length).putShort((short) b.length).put(b).array();
  }

  private static String readString(ByteBuffer b) {
    int len = b.getShort() & 0xFFFF;
    if (len > MAX_STRING_BYTES) {
      throw new IllegalArgumentException("string too long");
    }
    byte[] s = new byte[len];
    b.get(s);
    return new String(s, StandardCharsets.UTF_8);
  }
}
