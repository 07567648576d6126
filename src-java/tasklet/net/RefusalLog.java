package tasklet.net;

import java.lang.System.Logger.Level;
import java.util.function.LongSupplier;

/**
 * The log of refused and failed connections before authentication, rate-limited: at most
 * {@code burst} lines per {@code windowMs}, then one line per window saying how many
 * refusals were not logged. A flood of hostile connections thus costs a bounded number of
 * log lines, and each refusal is logged at most once. Any thread (synchronized; the line
 * is written outside the lock).
 */
final class RefusalLog {
  private static final System.Logger LOG = System.getLogger("tasklet.net");

  private final int burst;
  private final long windowNanos;
  private final LongSupplier clock;
  private long windowStart;
  private int logged;     // lines in the current window
  private long dropped;   // refusals not logged since the last summary

  RefusalLog(int burst, long windowMs, LongSupplier nanoClock) {
    this.burst = burst;
    this.windowNanos = windowMs * 1_000_000L;
    this.clock = nanoClock;
    this.windowStart = nanoClock.getAsLong();
  }

  /** Logs {@code line} at {@code level} unless this window's lines are used up. */
  void log(Level level, String line) {
    long summary = -1;
    boolean write;
    synchronized (this) {
      long now = clock.getAsLong();
      if (now - windowStart >= windowNanos) {
        windowStart = now;
        logged = 0;
        if (dropped > 0) {
          summary = dropped;
          dropped = 0;
        }
      }
      write = logged < burst;
      if (write) {
        logged++;
      } else {
        dropped++;
      }
    }
    if (summary > 0) {
      LOG.log(Level.WARNING, "tasklet.net: " + summary + " more refused or failed connections"
          + " were not logged (rate limit)");
    }
    if (write) {
      LOG.log(level, line);
    }
  }

  /** Refusals not logged since the last summary line. */
  synchronized long dropped() {
    return dropped;
  }
}
