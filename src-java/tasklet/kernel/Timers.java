package tasklet.kernel;

/**
 * One shared timer service for receive timeouts and delayed work, injectable so
 * that tests control time ({@link ManualTime}); the real one is
 * {@link SystemTimers}. Tasks run on the timer's thread and must be short (they
 * only wake tasklets).
 */
public interface Timers {
  /** A scheduled task that can be cancelled. */
  interface Timeout {
    /** Cancel; a no-op when already run or cancelled. Any thread. */
    void cancel();
  }

  /** Run {@code task} once after {@code delayNanos} of this timer's clock. Any thread. */
  Timeout schedule(long delayNanos, Runnable task);

  /** The clock this timer measures delays by. */
  Clock clock();
}
