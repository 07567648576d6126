package tasklet.kernel;

/**
 * Per-tasklet thread context that must travel with a tasklet across worker
 * threads: Clojure's dynamic binding frame. The kernel captures it when a
 * continuation tasklet suspends and installs it when the tasklet resumes, on
 * whichever worker that is. Supplied by the Clojure layer.
 *
 * <p>Only this one piece of thread state travels. Any other ThreadLocal seen
 * from a continuation tasklet belongs to the worker thread that happens to run
 * it at that moment (see the tasklet.core docstring).
 */
public interface Context {
  /** The calling thread's current context. Called on the tasklet's own strand. */
  Object capture();

  /** Make {@code ctx} the calling thread's context. Called on the tasklet's own strand. */
  void install(Object ctx);

  /** No context at all (pure-Java use). */
  Context NONE = new Context() {
    public Object capture() { return null; }
    public void install(Object ctx) {}
  };
}
