package tasklet.kernel;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Real-time {@link Timers} on the JDK's {@link ScheduledThreadPoolExecutor}
 * (one daemon thread, "tasklet-timer"). Cancelled timeouts are removed from the
 * queue at once, so the common case (a reply arrives, the timeout is cancelled)
 * leaves no garbage behind.
 */
public final class SystemTimers implements Timers {
  private final ScheduledThreadPoolExecutor exec;

  public SystemTimers() {
    exec = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "tasklet-timer");
      t.setDaemon(true);
      return t;
    });
    exec.setRemoveOnCancelPolicy(true);
  }

  @Override public Timeout schedule(long delayNanos, Runnable task) {
    ScheduledFuture<?> f = exec.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  @Override public Clock clock() { return Clock.SYSTEM; }

  /** Stop the timer thread. Any thread. */
  public void shutdown() { exec.shutdownNow(); }
}
