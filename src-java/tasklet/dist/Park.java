package tasklet.dist;

import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import tasklet.kernel.Await;
import tasklet.kernel.Node;
import tasklet.kernel.Tasklet;

/**
 * Waiting without holding a worker, for back-pressure and connect on demand:
 * the kernel's {@link Await} (a live tasklet parks until the callback fires,
 * its worker runs others; a thread without a tasklet blocks on a latch),
 * plus the rule of when the protocol may wait at all: never on an event
 * loop, nor in a tasklet that is ending (its terminate sends DOWNs and exit
 * signals, which must not wait for a connection or a drain).
 */
final class Park {
  private Park() {}

  /** True on a Netty event-loop thread, where nothing may wait. */
  static boolean onEventLoop() { return Thread.currentThread() instanceof FastThreadLocalThread; }

  /** Whether the caller may wait (see the class doc). */
  static boolean mayWait() {
    if (onEventLoop()) return false;
    Tasklet t = Node.currentTasklet();
    return t == null || t.isAlive();
  }

  /**
   * Calls {@code arm} with a wake-up that some other thread runs once the
   * awaited thing happened, then waits for it up to {@code ms}; true when
   * woken. The kernel's {@link Await}. Only when {@link #mayWait}.
   */
  static boolean awaitWake(Consumer<Runnable> arm, long ms) { return Await.callback(arm, ms); }

  /**
   * Waits up to {@code ms} for {@code f} (see {@link #awaitWake}); true when
   * it is done (completed, failed or cancelled).
   */
  static boolean awaitFuture(CompletableFuture<?> f, long ms) {
    return Await.future(f, ms);
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
