package tasklet.net;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Settings of one {@link Transport}: who this node is, where it listens, the cookie, and
 * the limits. Immutable once built; make one with {@link #builder(String, String)}.
 *
 * <table>
 *   <caption>Settings and defaults</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>name</td><td>(required)</td><td>this node's name, unique among connected nodes</td></tr>
 *   <tr><td>cookie</td><td>(required)</td><td>shared secret; never sent</td></tr>
 *   <tr><td>incarnation</td><td>{@link #freshIncarnation()}</td><td>changes when the node restarts: a non-zero 32-bit value</td></tr>
 *   <tr><td>host / port</td><td>127.0.0.1 / 0</td><td>where to listen; port 0 = any free port</td></tr>
 *   <tr><td>advertisedHost</td><td>host</td><td>host peers should use to reach us</td></tr>
 *   <tr><td>maxFrameBytes</td><td>64 MiB</td><td>largest length field (type + payload) accepted</td></tr>
 *   <tr><td>tickMs</td><td>1000</td><td>heartbeat period</td></tr>
 *   <tr><td>heartbeatTimeoutMs</td><td>10 ticks</td><td>a connection silent this long is lost</td></tr>
 *   <tr><td>maxHandshakes</td><td>64</td><td>inbound connections in the handshake at once</td></tr>
 *   <tr><td>maxHandshakesPerAddress</td><td>16</td><td>the same, from one source address</td></tr>
 *   <tr><td>maxInboundBytes</td><td>8 MiB</td><td>received, undelivered payload bytes per connection before reading pauses</td></tr>
 *   <tr><td>handshakeTimeoutMs</td><td>5000</td><td>connect + handshake must finish within this</td></tr>
 *   <tr><td>writeBufferHigh / Low</td><td>1 MiB / 512 KiB</td><td>write-buffer water marks</td></tr>
 *   <tr><td>ioThreads</td><td>max(1, cores / 2)</td><td>event-loop threads</td></tr>
 *   <tr><td>tls</td><td>none</td><td>mutual TLS, see {@link Tls}</td></tr>
 * </table>
 *
 * <p>Any thread (immutable). The builder is for one thread at a time.
 */
public final class Config {
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Every incarnation {@link #freshIncarnation()} gave out in this JVM. */
  private static final Set<Integer> GIVEN = ConcurrentHashMap.newKeySet();

  final String name;
  final int incarnation;
  final String host;
  final int port;
  final String advertisedHost;
  private final byte[] cookie;
  final int maxFrameBytes;
  final long tickMs;
  final long heartbeatTimeoutMs;
  final long handshakeTimeoutMs;
  final int maxHandshakes;
  final int maxHandshakesPerAddress;
  final long maxInboundBytes;
  final int writeBufferHigh;
  final int writeBufferLow;
  final int ioThreads;
  final Tls tls;

  private Config(Builder b) {
    this.name = b.name;
    this.incarnation = b.incarnation;
    this.host = b.host;
    this.port = b.port;
    this.advertisedHost = b.advertisedHost != null ? b.advertisedHost : b.host;
    this.cookie = b.cookie.clone();
    this.maxFrameBytes = b.maxFrameBytes;
    this.tickMs = b.tickMs;
    this.heartbeatTimeoutMs = b.heartbeatTimeoutMs > 0 ? b.heartbeatTimeoutMs : 10 * b.tickMs;
    if (heartbeatTimeoutMs < 2 * tickMs) {
      throw new IllegalArgumentException("heartbeatTimeoutMs (" + heartbeatTimeoutMs
          + ") must be at least two ticks (" + 2 * tickMs + ")");
    }
    this.handshakeTimeoutMs = b.handshakeTimeoutMs;
    this.maxHandshakes = b.maxHandshakes;
    this.maxHandshakesPerAddress = b.maxHandshakesPerAddress;
    this.maxInboundBytes = b.maxInboundBytes;
    this.writeBufferHigh = b.writeBufferHigh;
    this.writeBufferLow = b.writeBufferLow;
    this.ioThreads = b.ioThreads;
    this.tls = b.tls;
  }

  /** A builder for a node called {@code name} with a string cookie (UTF-8). Any thread. */
  public static Builder builder(String name, String cookie) {
    return new Builder(name, cookie.getBytes(StandardCharsets.UTF_8));
  }

  /** A builder for a node called {@code name} with a binary cookie. Any thread. */
  public static Builder builder(String name, byte[] cookie) {
    return new Builder(name, cookie.clone());
  }

  /** This node's name. Any thread. */
  public String name() {
    return name;
  }

  /**
   * A new incarnation, as OTP chooses a node's creation: a random non-zero 32-bit value,
   * different from every one given out before in this JVM (a node restarted under its
   * name in the same JVM always gets another). A node restarted in another process draws
   * again: the same value as its previous incarnation comes up once in 2^32 - 1 restarts
   * (OTP's epmd remembers the last creation per name; there is no such registry here).
   * 0 is left to nodes without distribution ({@code NodeOptions}' default). Any thread.
   */
  public static int freshIncarnation() {
    while (true) {
      int v = RANDOM.nextInt();
      if (v != 0 && GIVEN.add(v)) return v;
    }
  }

  /** This node's incarnation. Any thread. */
  public int incarnation() {
    return incarnation;
  }

  /** The heartbeat period in milliseconds. Any thread. */
  public long tickMs() {
    return tickMs;
  }

  /** How long a silent connection lives, in milliseconds. Any thread. */
  public long heartbeatTimeoutMs() {
    return heartbeatTimeoutMs;
  }

  /** The largest accepted length field (type byte + payload). Any thread. */
  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  byte[] cookie() {
    return cookie; // package-private and never mutated
  }

  @Override
  public String toString() { // never prints the cookie
    return "Config[" + name + "/" + incarnation + " " + host + ":" + port
        + (tls != null ? " tls" : "") + "]";
  }

  /** Builds a {@link Config}; each setter returns the builder. One thread at a time. */
  public static final class Builder {
    private final String name;
    private final byte[] cookie;
    private int incarnation = freshIncarnation();
    private String host = "127.0.0.1";
    private int port = 0;
    private String advertisedHost;
    private int maxFrameBytes = 64 << 20;
    private long tickMs = 1000;
    private long heartbeatTimeoutMs;     // 0: ten ticks
    private long handshakeTimeoutMs = 5000;
    private int maxHandshakes = 64;
    private int maxHandshakesPerAddress = 16;
    private long maxInboundBytes = 8 << 20;
    private int writeBufferHigh = 1 << 20;
    private int writeBufferLow = 512 << 10;
    private int ioThreads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    private Tls tls;

    private Builder(String name, byte[] cookie) {
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException("node name must not be empty");
      }
      Handshake.utf8(name); // checks the length
      if (cookie.length == 0) {
        throw new IllegalArgumentException("cookie must not be empty");
      }
      this.name = name;
      this.cookie = cookie;
    }

    /**
     * Sets the incarnation (default: {@link #freshIncarnation()}); not 0, which a peer
     * refuses (it is the incarnation of a node without distribution).
     */
    public Builder incarnation(int v) {
      if (v == 0) throw new IllegalArgumentException("incarnation must not be 0");
      incarnation = v;
      return this;
    }

    /** Sets the listen host (default 127.0.0.1). */
    public Builder host(String v) { host = v; return this; }

    /** Sets the listen port (default 0: any free port). */
    public Builder port(int v) {
      if (v < 0 || v > 65535) {
        throw new IllegalArgumentException("port out of range: " + v);
      }
      port = v;
      return this;
    }

    /** Sets the host peers are told to use (default: the listen host). */
    public Builder advertisedHost(String v) { advertisedHost = v; return this; }

    /**
     * Sets the largest accepted length field (type byte + payload); at least 4096, so that
     * every handshake frame fits.
     */
    public Builder maxFrameBytes(int v) {
      maxFrameBytes = atLeast("maxFrameBytes", v, 4096);
      return this;
    }

    /** Sets the heartbeat period in ms (at least 10). */
    public Builder tickMs(long v) { tickMs = atLeast("tickMs", v, 10); return this; }

    /**
     * Sets how long a connection may stay silent (nothing read from it) before it is
     * closed as lost, in ms (default: ten ticks, 10 s). It must be at least two ticks; it is
     * the longest pause (GC, SIGSTOP, a saturated link) a peer survives, and the time a
     * vanished peer takes to be noticed.
     */
    public Builder heartbeatTimeoutMs(long v) {
      heartbeatTimeoutMs = atLeast("heartbeatTimeoutMs", v, 20);
      return this;
    }

    /**
     * Sets the bounds on inbound connections still in the handshake: in total and from one
     * source address (defaults 64 and 16). More are closed as soon as they are accepted.
     */
    public Builder maxHandshakes(int total, int perAddress) {
      maxHandshakes = atLeast("maxHandshakes", total, 1);
      maxHandshakesPerAddress = atLeast("maxHandshakesPerAddress", perAddress, 1);
      return this;
    }

    /**
     * Sets the bound on a connection's received but not yet delivered payload bytes
     * (default 8 MiB): above it the node stops reading that socket until the backlog
     * is half gone.
     */
    public Builder maxInboundBytes(long v) {
      maxInboundBytes = atLeast("maxInboundBytes", v, 1);
      return this;
    }

    /** Sets the connect + handshake time limit in ms (at least 10). */
    public Builder handshakeTimeoutMs(long v) {
      handshakeTimeoutMs = atLeast("handshakeTimeoutMs", v, 10);
      return this;
    }

    /** Sets the write-buffer water marks in bytes: not writable above high, writable again below low. */
    public Builder writeBufferWaterMarks(int low, int high) {
      if (low < 0 || high < low) {
        throw new IllegalArgumentException("need 0 <= low <= high: " + low + ", " + high);
      }
      writeBufferLow = low;
      writeBufferHigh = high;
      return this;
    }

    /** Sets the number of event-loop threads (at least 1). */
    public Builder ioThreads(int v) { ioThreads = atLeast("ioThreads", v, 1); return this; }

    /** Enables mutual TLS (null disables it). */
    public Builder tls(Tls v) { tls = v; return this; }

    /** The immutable {@link Config}. */
    public Config build() {
      return new Config(this);
    }

    private static int atLeast(String what, int v, int min) {
      return (int) atLeast(what, (long) v, min);
    }

    private static long atLeast(String what, long v, long min) {
      if (v < min) {
        throw new IllegalArgumentException(what + " must be at least " + min + ": " + v);
      }
      return v;
    }
  }
}
