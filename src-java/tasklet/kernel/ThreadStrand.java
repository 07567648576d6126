package tasklet.kernel;

/**
 * A plain thread (the REPL, a future, -main) that asked for its pid: it gets a
 * mailbox and receives by parking the thread. It lives as long as the thread;
 * the scheduler's watchdog ends it with reason :normal once the thread is gone.
 */
public final class ThreadStrand implements Strand {
  @Override public void start(Tasklet t) {
    t.carrier = Thread.currentThread();
    t.state = Tasklet.RUNNING;
  }

  @Override public void suspend(Tasklet t) { t.block(); }

  @Override public void resume(Tasklet t) {
    throw new IllegalStateException("a thread tasklet is never PARKED");
  }

  @Override public void yieldSlice(Tasklet t) {}

  @Override public String name() { return "thread"; }
}
