package tasklet.net;

/**
 * The frame types of the wire protocol and the rules for which ones a stream may carry.
 *
 * <p>A frame is {@code [u32 length][u8 type][payload]}, where {@code length} counts the
 * type byte and the payload (so it is at least 1). Types {@code 0x01}-{@code 0x0F} belong
 * to the transport; {@link #APP_MIN}-{@link #APP_MAX} ({@code 0x10}-{@code 0x7F}) are
 * application types that the transport carries without looking inside; every other type
 * is unknown and closes the connection that carried it.
 *
 * <p>All members are constants or pure functions: any thread.
 */
public final class FrameType {
  /** Handshake opening: version, node name, incarnation, listen address, nonce. */
  public static final int HELLO = 0x01;
  /** Handshake answer: HMAC-SHA256 over the peer's nonce and both names. */
  public static final int PROOF = 0x02;
  /** Sent by the deciding side (lower name) once it keeps the connection. Empty. */
  public static final int ACCEPT = 0x03;
  /** Heartbeat: the sender's load figure, a big-endian long. */
  public static final int TICK = 0x04;
  /** Orderly close: one code byte, then the UTF-8 reason. */
  public static final int CLOSE = 0x05;

  /** Lowest application frame type. */
  public static final int APP_MIN = 0x10;
  /** Highest application frame type. */
  public static final int APP_MAX = 0x7F;

  /** CLOSE code: ordinary close. */
  public static final int CLOSE_NORMAL = 0;
  /** CLOSE code: the peer's proof did not verify (wrong cookie). */
  public static final int CLOSE_AUTH = 1;
  /** CLOSE code: the two nodes already have a connection; this one is dropped. */
  public static final int CLOSE_DUPLICATE = 2;
  /** CLOSE code: the sender saw a protocol error. */
  public static final int CLOSE_ERROR = 3;

  private FrameType() {}

  /** True for an application type, {@code 0x10}-{@code 0x7F}. Any thread. */
  public static boolean isApp(int type) {
    return type >= APP_MIN && type <= APP_MAX;
  }

  /** True for every type a stream may carry (transport or application). Any thread. */
  public static boolean isKnown(int type) {
    return (type >= HELLO && type <= CLOSE) || isApp(type);
  }

  /** A short name for logs, e.g. {@code "HELLO"} or {@code "app 0x10"}. Any thread. */
  public static String name(int type) {
    switch (type) {
      case HELLO: return "HELLO";
      case PROOF: return "PROOF";
      case ACCEPT: return "ACCEPT";
      case TICK: return "TICK";
      case CLOSE: return "CLOSE";
      default: return (isApp(type) ? "app 0x" : "unknown 0x") + Integer.toHexString(type);
    }
  }
}
