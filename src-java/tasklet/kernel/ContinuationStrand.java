package tasklet.kernel;

import jdk.internal.vm.Continuation;
import jdk.internal.vm.ContinuationScope;

/**
 * Tasklets as raw {@code jdk.internal.vm.Continuation}s run by the kernel's
 * {@link Scheduler}. Waiting in receive is {@code Continuation.yield}, so it
 * works at any call depth and holds no thread. Needs the JVM option
 * {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}; without it this
 * class is never loaded (see {@link Strand#continuationsAvailable}): its static
 * initialiser already touches jdk.internal.vm.
 *
 * <p>A yield that fails because the stack is pinned (a native frame such as a
 * class initializer, or a held monitor before JDK 24) falls back to blocking
 * the worker thread; the scheduler's watchdog notices the stuck worker and adds
 * a compensating one.
 */
public final class ContinuationStrand implements Strand {
  static final ContinuationScope SCOPE = new ContinuationScope("tasklet");

  /**
   * A continuation whose pinned yield reports failure instead of throwing,
   * and which holds its tasklet's home worker ({@link Tasklet#home}): the
   * JDK's Continuation has 43 bytes of fields, so one reference here costs
   * nothing (48 bytes either way) where it would cost the Tasklet 8. The one
   * spare reference goes to the home rather than to the tasklet itself (which
   * would spare the worker's per-slice store of Worker.Slots.current): that store
   * bought no measurable hop time, the home saves 8 bytes in every waiting
   * tasklet (doc/adr/0008, 0011).
   */
  static final class Cont extends Continuation {
    Worker home;   // set once by the first worker to run it (WorkerPool); see Tasklet.home()

    Cont(Tasklet t) { super(SCOPE, t); }

    @Override protected void onPinned(Continuation.Pinned reason) {
      // yield returns false and the caller blocks its worker instead
    }
  }

  /** The home worker kept in a continuation carrier (see {@link Tasklet#home}), or null. Any thread. */
  static Worker homeOf(Object carrier) { return ((Cont) carrier).home; }

  private final Scheduler scheduler;

  public ContinuationStrand(Scheduler scheduler) { this.scheduler = scheduler; }

  @Override public void start(Tasklet t) {
    t.carrier = new Cont(t);
    t.state = Tasklet.RUNNABLE;
    scheduler.submit(t, false);
  }

  @Override public void suspend(Tasklet t) {
    if (!yieldAs(t, Tasklet.PARKING)) t.block();
  }

  @Override public void resume(Tasklet t) {
    scheduler.submit(t, true);
  }

  @Override public void yieldSlice(Tasklet t) {
    if (!yieldAs(t, Tasklet.YIELDING)) t.state = Tasklet.RUNNING;
  }

  /**
   * Set {@code state} and yield the continuation. Returns false when the
   * stack is pinned (nothing yielded; the caller decides what to do
   * instead). The dynamic bindings are carried across by {@link #runSlice},
   * on the worker's side of the yield. Owner only.
   */
  private static boolean yieldAs(Tasklet t, int state) {
    t.setStateQuietly(state);   // PARKING or YIELDING: wake() acts on neither
    return Continuation.yield(SCOPE);
  }

  /**
   * Run {@code t} until it suspends or ends. Returns true when it must be
   * queued again (it yielded its slice, or was woken while parking).
   * Scheduler worker only (or the deterministic scheduler's driver).
   *
   * <p>The tasklet's dynamic bindings are installed here before the
   * continuation runs and captured here after it yields, not inside the
   * continuation around its yield: a continuation runs on its carrier
   * thread, so the thread's binding frame before {@code run} is the one the
   * resumed body sees, and the one after {@code run} returns is the one the
   * body held at its yield. Why here: the check is two loads and a compare
   * in the worker's frame, where around the yield it was two out-of-line
   * calls (kept out of line so as not to widen the frame every waiting
   * tasklet freezes), each finding the home worker again (doc/adr/0008,
   * session 6). On the home worker the frame is installed only when it
   * differs from the one the thread holds ({@link Worker#frame}, see
   * Tasklet.installContext for the invariant); on any other thread (the
   * deterministic scheduler's driver) it is installed always.
   */
  public static boolean runSlice(Tasklet t) {
    Cont c = (Cont) t.carrier;
    Worker w = c.home;
    boolean home = w != null && w == Thread.currentThread();
    Object frame = t.context;
    if (!home) {
      t.node.context.install(frame);
    } else if (w.frame != frame) {
      w.frame = frame;
      t.node.context.install(frame);
    }
    t.onResume();
    try {
      c.run();
    } catch (Throwable e) {
      forgetContext(c.home);
      throw e;
    }
    if (c.isDone()) {
      t.carrier = null;
      forgetContext(c.home);   // the ended body may have left any context installed
      return false;
    }
    Object now = t.node.context.capture();
    if (now != t.context) t.context = now;
    if (home && w.frame != now) w.frame = now;
    return t.afterYield();
  }

  private static void forgetContext(Worker w) {
    if (w != null) w.frame = Tasklet.NO_CONTEXT;
  }

  @Override public String name() { return "continuation"; }

}
