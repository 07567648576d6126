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
 * (after TLS, if any). Then the side that connected (the initiator) proves first, and the
 * side that accepted proves only after it has checked that proof:
 * <pre>
 *   initiator                                  acceptor
 *     HELLO(i)  ───────────────────────────▶
 *               ◀───────────────────────────  HELLO(a)
 *     PROOF(initiator) ────────────────────▶  verified, else CLOSE auth
 *               ◀───────────────────────────  PROOF(acceptor)
 *   proof(role) = HMAC-SHA256(cookie, lp(role) || lp(HELLO(i)) || lp(HELLO(a)) || lp(binding))
 * </pre>
 * where {@code lp(x)} is {@code x} behind a 4-byte big-endian length, the HELLOs are the
 * payloads exactly as sent (so both names, both nonces, both incarnations and addresses),
 * and {@code binding} is empty without TLS and otherwise keying material exported from the
 * TLS session (see {@link Session}), which differs on each leg of a relay.
 *
 * <p>Why this shape (the reasons Erlang's handshake has the same order): a node that
 * accepts a connection sends nothing keyed by the cookie until the other side has shown
 * it holds the cookie, so an unauthenticated connection yields nothing to test cookie
 * guesses against offline, and a listening node is no signing oracle: a party that
 * connects to two honest nodes and relays between them never obtains an initiator's
 * proof (only an honest node dialling out makes one, for the HELLOs of that connection).
 * The role label stops a proof from being reflected back on the same or another
 * connection; fresh 32-byte nonces on both sides stop replays.
 *
 * <p>Without TLS, a node that you connect to (say, an address you were given) sees your
 * initiator proof and could relay it to the node it pretends to be; with TLS the binding
 * defeats that too. Hence: TLS for networks you do not trust.
 *
 * <p>All methods are pure (or use a thread-safe {@link SecureRandom}): any thread.
 */
public final class Handshake {
  /**
   * Protocol version carried in every HELLO; a peer with another version is refused.
   * 3: the incarnation (in HELLO and in every pid and ref) is 32 bits, was 64 in 2.
   */
  public static final int VERSION = 3;
  /** Bytes in a nonce. */
  public static final int NONCE_BYTES = 32;
  /** Bytes in a proof (HMAC-SHA256). */
  public static final int PROOF_BYTES = 32;
  /** Longest node name or address, in UTF-8 bytes. */
  public static final int MAX_STRING_BYTES = 1024;
  /**
   * Largest length field (type + payload) accepted before the peer has proved the cookie:
   * the largest HELLO (two strings of {@link #MAX_STRING_BYTES}) and a CLOSE fit.
   */
  public static final int MAX_FRAME_BYTES = 4096;

  /** The role label of the connecting side's proof. */
  public static final String INITIATOR = "tasklet-v3 initiator";
  /** The role label of the accepting side's proof. */
  public static final String ACCEPTOR = "tasklet-v3 acceptor";

  private static final SecureRandom RANDOM = new SecureRandom();

  private Handshake() {}

  /**
   * The contents of a HELLO frame.
   *
   * @param name        the sender's node name
   * @param incarnation the sender's incarnation (changes each time the node restarts;
   *                    never 0, the incarnation of a node without distribution)
   * @param address     the sender's advertised listen address, {@code host:port}
   * @param nonce       {@link #NONCE_BYTES} random bytes, fresh for this connection
   */
  public record Hello(String name, int incarnation, String address, byte[] nonce) {
    /** The payload: {@code [u8 version][lp name][i32 incarnation][lp address][nonce]}. */
    public byte[] encode() {
      byte[] n = utf8(name);
      byte[] a = utf8(address);
      ByteBuffer b = ByteBuffer.allocate(1 + 2 + n.length + 4 + 2 + a.length + NONCE_BYTES);
      b.put((byte) VERSION).putShort((short) n.length).put(n).putInt(incarnation);
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
        int incarnation = b.getInt();
        String address = readString(b);
        byte[] nonce = new byte[NONCE_BYTES];
        b.get(nonce);
        if (b.hasRemaining() || name.isEmpty()) {
          throw new HandshakeException("malformed HELLO");
        }
        if (incarnation == 0) {   // a pid of it would name a node without distribution
          throw new HandshakeException("malformed HELLO: incarnation 0");
        }
        if (!printable(name) || !printable(address)) {
          throw new HandshakeException("malformed HELLO: a node name or address with a"
              + " control, format or space character: " + LogText.of(name));
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
   * The proof of the side in {@code role} ({@link #INITIATOR} or {@link #ACCEPTOR}) that
   * it knows {@code cookie}, over both HELLO payloads as sent and the channel
   * {@code binding} (empty without TLS). Any thread.
   */
  public static byte[] proof(byte[] cookie, String role, byte[] initiatorHello,
                             byte[] acceptorHello, byte[] binding) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(cookie, "HmacSHA256"));
      update(mac, role.getBytes(StandardCharsets.UTF_8));
      update(mac, initiatorHello);
      update(mac, acceptorHello);
      update(mac, binding);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e); // every JDK has it
    }
  }

  private static void update(Mac mac, byte[] part) {
    mac.update(ByteBuffer.allocate(4).putInt(part.length).array());
    mac.update(part);
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

  /** True if {@code s} has no control, format, separator or space character. */
  static boolean printable(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      int t = Character.getType(c);
      if (Character.isISOControl(c) || Character.isWhitespace(c) || Character.isSpaceChar(c)
          || t == Character.FORMAT || t == Character.LINE_SEPARATOR
          || t == Character.PARAGRAPH_SEPARATOR) {
        return false;
      }
    }
    return true;
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
