package tasklet.kernel;

/**
 * Receives a crash report whenever a tasklet's function throws, so a crash is
 * never silent (Erlang's error logger). One report per crash: a tasklet that
 * ends because a linked one crashed (an exit signal carrying the exception),
 * or that ends with {@code exit} of an exception already handed to someone
 * (tasklet.core/schedule, a failed server start), is not reported again; nor
 * is a plain thread, whose exception reaches its own caller.
 *
 * <p>A node uses its own handler if it has one, else the JVM's
 * ({@link NodeTable#setCrashHandler}), so a handler installed once also
 * covers nodes made later (tasklet.node/start!). The default logs one line
 * (no stack trace) through {@link System.Logger} "tasklet" at ERROR;
 * tasklet.core replaces it with its own (see set-crash-handler!).
 */
public interface CrashHandler {
  /**
   * Called on the crashed tasklet's own strand, after its links and monitors
   * were notified. Must not throw (a throw is logged and ignored).
   */
  void crashed(Pid pid, Object initialFn, Throwable cause);

  /**
   * As {@link #crashed(Pid, Object, Throwable)}, with the name the tasklet
   * was registered under when it crashed (or null) and what it said about
   * itself before it ended ({@link Tasklet#setCrashContext}: a server's last
   * message and state, truncated, as proc_lib's crash report has), or null.
   * What the kernel calls; by default it drops both.
   */
  default void crashed(Pid pid, Object initialFn, Object registeredName, Throwable cause,
                       Object context) {
    crashed(pid, initialFn, cause);
  }

  /**
   * The body of {@code t} threw {@code e}: end it with {@code e}, then
   * report the crash (the only place a crash report is made, besides the
   * kernel's own for a mailbox overflow). Its strand only.
   */
  static void crashed(Tasklet t, Throwable e) {
    Object name;
    Object context;
    synchronized (t) {   // both gone once ended
      Extra x = t.ex();
      name = x.registeredName;
      context = x.crashContext;
    }
    t.node.terminate(t, e);
    report(t.node, t.pid, t.initialFn(), name, e, context);
  }

  /**
   * Hand a crash to {@code node}'s handler in effect; a handler that throws
   * is logged, never propagated. The crashed tasklet's strand.
   */
  static void report(Node node, Pid pid, Object initialFn, Object name, Throwable cause, Object context) {
    try {
      node.crashHandler().crashed(pid, initialFn, name, cause, context);
    } catch (Throwable e) {
      System.getLogger("tasklet").log(System.Logger.Level.ERROR, "crash handler failed", e);
    }
  }

  /** Logs one line through System.Logger "tasklet", and the context when there is one. */
  CrashHandler LOG = new CrashHandler() {
    @Override public void crashed(Pid pid, Object fn, Throwable cause) {
      crashed(pid, fn, null, cause, null);
    }

    @Override public void crashed(Pid pid, Object fn, Object name, Throwable cause, Object context) {
      System.getLogger("tasklet").log(System.Logger.Level.ERROR,
          "tasklet " + pid + (name == null ? "" : " registered as " + name) + " running " + fn
          + " crashed: " + cause + (context == null ? "" : "\n" + context));
    }
  };
}
