package tasklet.dist;

import clojure.lang.AFn;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import tasklet.kernel.Node;
import tasklet.kernel.Pid;
import tasklet.kernel.Tasklet;

/**
 * Waiting without holding a worker, for back-pressure, connect on demand and
 * request replies: a live tasklet waits in a selective receive for a private
 * wake-up token (on the continuation strand it parks and its worker runs
 * others; an exit signal meanwhile ends it as in any receive); a thread
 * without a tasklet blocks on a latch. Nothing waits on an event loop, or in
 * a tasklet that is ending (its terminate sends DOWNs and exit signals; it
 * has no mailbox any more).
 */
final class Park {
  private Park() {}

  private static final Object TIMED_OUT = new Object();

  /** True on a Netty event-loop thread, where nothing may wait. */
  static boolean onEventLoop() { return Thread.currentThread() instanceof FastThreadLocalThread; }

  /** Whether the caller may wait (see the class doc). */
  static boolean mayWait() {
    if (onEventLoop()) return false;
    Tasklet t = Node.currentTasklet();
    return t == null || t.isAlive();
  }

  /** Matches exactly one object (identity). */
  private static final class Token extends AFn {
    @Override public Object invoke(Object m) { return m == this ? m : null; }
  }

  /**
   * Calls {@code arm} with a wake-up that some other thread runs once the
   * awaited thing happened, then waits for it up to {@code ms}. True when
   * woken. Only when {@link #mayWait}.
   */
  static boolean awaitWake(Consumer<Runnable> arm, long ms) {
    Tasklet t = Node.currentTasklet();
    if (t == null || !t.isAlive()) {
      CountDownLatch latch = new CountDownLatch(1);
      arm.accept(latch::countDown);
      try {
        return latch.await(ms, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    Token token = new Token();
    Pid pid = t.pid();
    AtomicBoolean fired = new AtomicBoolean();
    // Node.deliver: straight into this JVM's tasklet, whichever node wakes it
    arm.accept(() -> { if (fired.compareAndSet(false, true)) Node.deliver(pid, token); });
    Object r = t.receive(token, ms * 1_000_000L, TIMED_OUT, false);
    if (r != TIMED_OUT) return true;
    if (fired.compareAndSet(false, true)) return false;
    t.receive(token, -1, null, false);   // woken just as the wait ran out: take the token out
    return true;
  }

  /**
   * Waits up to {@code ms} for {@code f} (see {@link #awaitWake}); true when
   * it is done (completed, failed or cancelled).
   */
  static boolean awaitFuture(CompletableFuture<?> f, long ms) {
    if (!f.isDone()) awaitWake(wake -> f.whenComplete((v, e) -> wake.run()), ms);
    return f.isDone();
  }

  /** The value of done future {@code f}, or null when it failed. */
  static <T> T valueOf(CompletableFuture<T> f) {
    try {
      return f.getNow(null);
    } catch (CompletionException | CancellationException e) {
      return null;
    }
  }

  /** Why done future {@code f} failed, or null when it completed. */
  static Throwable failureOf(CompletableFuture<?> f) {
    try {
      f.getNow(null);
      return null;
    } catch (CompletionException e) {
      return e.getCause() != null ? e.getCause() : e;
    } catch (CancellationException e) {
      return e;
    }
  }
}
