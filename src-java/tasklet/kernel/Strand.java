package tasklet.kernel;

/**
 * How a tasklet runs, suspends and resumes. One instance per kind per node:
 * {@link ContinuationStrand} (raw continuations on the kernel's scheduler),
 * {@link VirtualThreadStrand} (one virtual thread per tasklet) and
 * {@link ThreadStrand} (a plain thread that adopted a pid).
 */
public interface Strand {
  /** Begin running {@code t.run()}. Any thread, once per tasklet. */
  void start(Tasklet t);

  /** Wait until {@link Tasklet#wake} (may return spuriously). Owner only. */
  void suspend(Tasklet t);

  /** Run a tasklet that went from PARKED to RUNNABLE. Any thread (the waker). */
  void resume(Tasklet t);

  /** Let other tasklets run (the fairness budget ran out). Owner only. */
  void yieldSlice(Tasklet t);

  /** "continuation", "virtual" or "thread". */
  String name();

  /**
   * Whether this JVM lets the library use raw continuations (jdk.internal.vm
   * is exported to it). Here, not in ContinuationStrand, because that class
   * cannot even be initialised without the export.
   */
  static boolean continuationsAvailable() {
    try {
      if (!Object.class.getModule().isExported("jdk.internal.vm", Strand.class.getModule())) return false;
      Class.forName("jdk.internal.vm.Continuation");
      return true;
    } catch (Throwable e) {
      return false;
    }
  }

  /**
   * The strand a node made now gets: {@code requested} when possible,
   * continuation when jdk.internal.vm is exported, else virtual. Throws on a
   * requested value that is neither "continuation" nor "virtual".
   */
  static String kind(String requested) {
    if ("virtual".equals(requested)) return "virtual";
    if (requested != null && !requested.isEmpty() && !"continuation".equals(requested)) {
      throw new IllegalArgumentException("tasklet.strand is \"" + requested
          + "\"; use \"continuation\" or \"virtual\" (or leave it unset)");
    }
    return continuationsAvailable() ? "continuation" : "virtual";
  }
}
