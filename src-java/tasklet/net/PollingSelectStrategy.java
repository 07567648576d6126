package tasklet.net;

import io.netty.channel.SelectStrategy;
import io.netty.channel.SelectStrategyFactory;
import io.netty.util.IntSupplier;
import java.util.function.LongSupplier;

/**
 * How an epoll event loop waits: after it last handled something (ready
 * sockets or tasks) it keeps polling the socket set without blocking for
 * {@link #POLL_NANOS}, yielding its CPU between looks, and only then blocks
 * in {@code epoll_wait}.
 *
 * <p>Why: an event loop blocked in {@code epoll_wait} is woken by the kernel
 * when a peer's bytes arrive, and on a virtual machine that wake-up of a
 * sleeping thread costs about 20 µs. A remote request/reply meets a sleeping
 * loop on each side, twice per round trip. A loop still polling needs no
 * wake-up; {@code Thread.yield} hands the CPU to any thread that wants it,
 * so only an otherwise idle CPU is spent (the workers' idle poll does the
 * same, see WorkerPool; Erlang's schedulers busy-wait before sleeping too).
 *
 * <p>The window is 200 µs (system property {@code tasklet.net.pollNanos},
 * read once; 0 blocks at once, as Netty's default strategy does): measured
 * in W5 (remote round trips, about 45 µs each), 50 µs gave nothing (a loop's
 * next event is a round trip away: it had always blocked by then), 100 µs
 * 24-25k round trips/s and 200 µs 29-30k, against 20.9k blocking at once.
 *
 * <p>One instance per event loop (the factory makes one per loop), used by
 * that loop's thread only.
 */
public final class PollingSelectStrategy implements SelectStrategy {
  /** How long a loop polls after its last event before it blocks. */
  static final long POLL_NANOS = Long.getLong("tasklet.net.pollNanos", 200_000L);

  static final SelectStrategyFactory FACTORY = () -> new PollingSelectStrategy(POLL_NANOS, System::nanoTime);

  private final long pollNanos;
  private final LongSupplier clock;  // nanoseconds
  private long lastActive;           // when something was last handled

  /** A strategy polling for {@code pollNanos} after each event by {@code clock} (tests pass their own). */
  public PollingSelectStrategy(long pollNanos, LongSupplier clock) {
    this.pollNanos = pollNanos;
    this.clock = clock;
    this.lastActive = clock.getAsLong();
  }

  /**
   * Ready sockets (polled without blocking) or tasks: handle them now;
   * nothing within the window since the last: poll again after a yield
   * ({@link SelectStrategy#CONTINUE}); else block ({@link SelectStrategy#SELECT}).
   * The loop's thread only.
   */
  @Override
  public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
    int ready = selectNow.get();
    long now = clock.getAsLong();
    if (ready > 0 || hasTasks) {
      lastActive = now;
      return ready;
    }
    if (now - lastActive < pollNanos) {
      Thread.yield();
      return SelectStrategy.CONTINUE;
    }
    return SelectStrategy.SELECT;
  }
}
