package tasklet.kernel;

/**
 * Receives a crash report whenever a tasklet ends with an exception, so a crash
 * is never silent (Erlang's error logger). Pluggable per node; the default logs
 * through {@link System.Logger} ("tasklet") at ERROR level.
 */
public interface CrashHandler {
  /**
   * Called on the crashed tasklet's own strand, after its links and monitors
   * were notified. Must not throw (a throw is logged and ignored).
   */
  void crashed(Pid pid, Object initialFn, Throwable cause);

  /**
   * As {@link #crashed(Pid, Object, Throwable)}, with what the tasklet said
   * about itself before it ended ({@link Tasklet#setCrashContext}: a server's
   * last message and state, truncated, as proc_lib's crash report has), or
   * null. The kernel calls this one; by default it drops the context.
   */
  default void crashed(Pid pid, Object initialFn, Throwable cause, Object context) {
    crashed(pid, initialFn, cause);
  }

  /** Logs through System.Logger "tasklet", with the context when there is one. */
  CrashHandler LOG = new CrashHandler() {
    @Override public void crashed(Pid pid, Object fn, Throwable cause) {
      crashed(pid, fn, cause, null);
    }

    @Override public void crashed(Pid pid, Object fn, Throwable cause, Object context) {
      System.getLogger("tasklet").log(System.Logger.Level.ERROR,
          "tasklet " + pid + " running " + fn + " crashed" + (context == null ? "" : "\n" + context), cause);
    }
  };
}
