package tasklet.kernel;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Park until a callback fires: how a caller waits for something another
 * thread completes (a connection, a socket becoming writable, a future),
 * without a message. A live tasklet parks as in {@code receive} (on the
 * continuation strand its worker runs other tasklets meanwhile; an exit
 * signal ends it, as at any suspension point; the time is the node's clock,
 * virtual under tasklet.test); its mailbox is left alone. A thread without a
 * live tasklet (or an ending tasklet's) blocks on a latch instead.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * The callback sets a flag and wakes the tasklet (Tasklet.wake: the permit);
 * the waiter re-checks the flag after every wake-up, so a message arriving
 * meanwhile only makes it look again, and a callback that fires after the
 * wait gave up costs the tasklet one spurious wake-up, never a message. The
 * waiter consumes the permit, which is safe because receive scans the
 * mailbox before it ever parks.
 * </pre>
 */
public final class Await {
  private Await() {}

  /** The callback: fires once, any thread. */
  private static final class Fired implements Runnable {
    private final Tasklet waiter;
    volatile boolean fired;

    Fired(Tasklet waiter) { this.waiter = waiter; }

    @Override public void run() {
      if (fired) return;
      fired = true;
      waiter.wake();
    }
  }

  /**
   * Call {@code arm} with a Runnable that some thread runs once the awaited
   * thing has happened (running it again, or late, is harmless), then wait
   * for that up to {@code timeoutMs}. True when it fired in time. Throws
   * {@link TaskletExit} when an exit signal ends the calling tasklet, and
   * ex-info :interrupted when a blocked plain thread is interrupted. The
   * calling thread.
   */
  public static boolean callback(Consumer<Runnable> arm, long timeoutMs) {
    Tasklet t = Node.currentTasklet();
    if (t == null || t.state == Tasklet.DONE) {
      CountDownLatch latch = new CountDownLatch(1);
      arm.accept(latch::countDown);
      try {
        return latch.await(Math.max(0, timeoutMs), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return latch.getCount() == 0;
      }
    }
    Fired f = new Fired(t);
    arm.accept(f);
    return park(t, f, TimeUnit.MILLISECONDS.toNanos(Math.max(0, timeoutMs)));
  }

  /**
   * Wait up to {@code timeoutMs} for {@code f} to complete (normally, with
   * an exception, or cancelled); true when it has. As {@link #callback}.
   * The calling thread.
   */
  public static boolean future(CompletableFuture<?> f, long timeoutMs) {
    if (f.isDone()) return true;
    callback(fire -> f.whenComplete((v, e) -> fire.run()), timeoutMs);
    return f.isDone();
  }

  private static boolean park(Tasklet t, Fired f, long nanos) {
    t.checkExit();
    if (f.fired) return true;
    Timers timers = t.node.timers;
    long deadline = timers.clock().nanoTime() + nanos;
    Timers.Timeout timeout = timers.schedule(nanos, t::wake);
    try {
      for (;;) {
        if (!t.takePermit()) t.strand().suspend(t);
        t.checkExit();
        if (f.fired) return true;
        if (timers.clock().nanoTime() - deadline >= 0) return false;
      }
    } finally {
      timeout.cancel();
    }
  }
}
