package tasklet.kernel;

import java.util.PriorityQueue;

/**
 * Virtual time for tests: a {@link Clock} and {@link Timers} that stand still
 * until {@link #advance} moves them, then run every task that fell due, in due
 * order, on the advancing thread.
 *
 * <p>What it cannot catch: code that measures time with {@code System.nanoTime}
 * or sleeps with {@code Thread.sleep} directly bypasses it, and tasks that wake
 * tasklets only make them runnable: the tasklets still run on the scheduler's
 * threads, so a test must still wait (with a timeout) for their effects.
 */
public final class ManualTime implements Clock, Timers {
  private record Entry(long due, long seq, Runnable task, boolean[] cancelled) {}

  private final PriorityQueue<Entry> queue = new PriorityQueue<>(
      (a, b) -> a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
  private long now;
  private long seq;

  @Override public synchronized long nanoTime() { return now; }

  @Override public Clock clock() { return this; }

  @Override public synchronized Timeout schedule(long delayNanos, Runnable task) {
    boolean[] cancelled = {false};
    queue.add(new Entry(now + Math.max(0, delayNanos), seq++, task, cancelled));
    return () -> { synchronized (this) { cancelled[0] = true; } };
  }

  /** Move time forward and run what fell due. Any thread. */
  public void advance(long nanos) {
    long target;
    synchronized (this) { target = now + nanos; }
    for (;;) {
      Entry e;
      synchronized (this) {
        e = queue.peek();
        if (e == null || e.due > target) { now = target; return; }
        queue.poll();
        now = Math.max(now, e.due);
        if (e.cancelled[0]) continue;
      }
      e.task.run();
    }
  }

  /** Milliseconds convenience for {@link #advance}. */
  public void advanceMillis(long ms) { advance(ms * 1_000_000L); }

  /**
   * Nanoseconds until the earliest task that is not cancelled falls due (0 when
   * one is due now), or -1 when none is pending. Any thread.
   */
  public synchronized long nextDueIn() {
    Entry e;
    while ((e = queue.peek()) != null && e.cancelled[0]) queue.poll();
    return e == null ? -1 : Math.max(0, e.due - now);
  }

  /** Number of tasks not yet due (cancelled ones included until they come due). */
  public synchronized int pending() { return queue.size(); }
}
