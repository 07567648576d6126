package tasklet.dist;

import tasklet.kernel.Ref;

/**
 * How the node protocol sees values: the bytes of a frame's payload, and the
 * few Clojure terms it has to make or take apart. The Clojure layer supplies
 * it (tasklet.impl.dist, with Nippy and its hardening in tasklet.impl.codec);
 * the protocol never looks inside a message body. A payload is one vector on
 * the wire, an {@code Object[]} here. Implementations: thread-safe, any
 * thread.
 */
public interface Codec {
  /**
   * The payload for {@code fields} (frozen as one vector). Throws the
   * library's {@code :unserializable} ex-info when a value cannot cross.
   */
  byte[] encode(Object[] fields);

  /** The payload for one term as it is (PEERS sends a map). Throws as {@link #encode}. */
  byte[] encodeTerm(Object term);

  /**
   * The value a peer's payload holds: a vector as {@code Object[]}, anything
   * else as itself (the caller refuses it as malformed). Throws when the
   * payload does not thaw or its guards refuse it (hostile input).
   */
  Object decode(byte[] payload);

  /** The keyword {@code name} ("ok", "tasklet/error"). */
  Object keyword(String name);

  /** A vector of {@code items}. */
  Object vector(Object... items);

  /** A map of alternating keys and values. */
  Object map(Object... kvs);

  /**
   * {@code {ref who reason}} of a monitor message {@code [:DOWN ref :process
   * who reason]} whose ref is a {@link Ref}, or null for anything else.
   */
  Object[] downParts(Object msg);

  /** What crosses instead of an exit reason that cannot be frozen. */
  Object standIn(Object reason);

  /**
   * {@code x} printed for a log line: bounded in breadth and depth before
   * printing starts, at most 500 characters.
   */
  String printable(Object x);

  /**
   * The exception a failed request throws, from the error value its target
   * sent back (a map with {@code :tasklet/error} and {@code :message}).
   */
  RuntimeException remoteError(Object error);
}
