package tasklet.kernel;

/**
 * Tasklets as virtual threads: the fallback when raw continuations are not
 * exported to the library. Waiting parks the virtual thread; the JDK's own
 * scheduler runs it. ThreadLocals (Clojure's bindings included) belong to the
 * tasklet's own virtual thread.
 */
public final class VirtualThreadStrand implements Strand {
  private final Thread.Builder builder = Thread.ofVirtual().name("tasklet-vt");

  @Override public void start(Tasklet t) {
    Thread th = builder.unstarted(() -> {
      Node.CURRENT.set(t);
      t.state = Tasklet.RUNNING;
      t.run();
    });
    t.carrier = th;
    t.state = Tasklet.RUNNABLE;
    th.start();
  }

  @Override public void suspend(Tasklet t) { t.block(); }

  @Override public void resume(Tasklet t) {
    throw new IllegalStateException("a virtual-thread tasklet is never PARKED");
  }

  @Override public void yieldSlice(Tasklet t) { Thread.yield(); }

  @Override public String name() { return "virtual"; }
}
