package tasklet.net;

import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The heartbeat of one open connection: sends a TICK with this node's load every
 * {@code tickMs}, and closes the connection with reason {@code "heartbeat timeout"} when
 * nothing at all has been read from the peer for {@code timeoutMs} (default ten ticks:
 * a peer paused by GC or SIGSTOP for less than that keeps its connection, and one that
 * stays silent is declared lost within that time plus scheduling delay).
 *
 * <p>The silence check is scheduled for the exact moment the deadline would pass
 * (re-armed from the last read, as Netty's {@code IdleStateHandler} does). Reads are
 * noted on the event loop as bytes arrive, before any frame is decoded or delivered, so a
 * slow delivery never makes a live peer look silent. While the endpoint has paused
 * reading, silence is expected and does not count.
 *
 * <p>Time is the event loop's {@code ticker()}, so tests on an {@code EmbeddedChannel}
 * drive it with {@code advanceTimeBy}.
 *
 * <p>All methods: the connection's event loop only.
 */
final class Heartbeat {
  static final String TIMEOUT_REASON = "heartbeat timeout";

  private final ChannelConnection conn;
  private final LongSupplier load;
  private final long tickNanos;
  private final long timeoutNanos;
  private ScheduledFuture<?> ticker;
  private ScheduledFuture<?> check;

  Heartbeat(ChannelConnection conn, LongSupplier load, long tickMs, long timeoutMs) {
    this.conn = conn;
    this.load = load;
    this.tickNanos = TimeUnit.MILLISECONDS.toNanos(tickMs);
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
  }

  /** Starts ticking and watching. Event loop only. */
  void start() {
    conn.lastRead = now();
    ticker = conn.ch.eventLoop().scheduleAtFixedRate(this::tick, tickNanos, tickNanos,
        TimeUnit.NANOSECONDS);
    check = conn.ch.eventLoop().schedule(this::check, timeoutNanos, TimeUnit.NANOSECONDS);
  }

  /** Notes that bytes arrived from the peer. Event loop only. */
  void touched() {
    conn.lastRead = now();
  }

  /** Stops both timers. Event loop only. */
  void stop() {
    if (ticker != null) {
      ticker.cancel(false);
      check.cancel(false);
    }
  }

  /** The event loop's clock: real time, or the virtual time of an EmbeddedChannel. */
  private long now() {
    return conn.ch.eventLoop().ticker().nanoTime();
  }

  private void tick() {
    if (!conn.ch.isActive()) {
      return;
    }
    long figure;
    try {
      figure = load.getAsLong();
    } catch (Throwable t) {
      figure = -1;
    }
    conn.writer.send(FrameType.TICK, Frames.tick(figure));
  }

  private void check() {
    if (!conn.ch.isActive()) {
      return;
    }
    long now = now();
    if (conn.readingPaused) {
      conn.lastRead = now;
    }
    long idle = now - conn.lastRead;
    if (idle >= timeoutNanos) {
      conn.closeWith(FrameType.CLOSE_ERROR, TIMEOUT_REASON, false); // peer presumed gone
    } else {
      check = conn.ch.eventLoop().schedule(this::check, timeoutNanos - idle, TimeUnit.NANOSECONDS);
    }
  }
}
