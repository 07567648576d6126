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

  /** Logs through System.Logger "tasklet". */
  CrashHandler LOG = (pid, fn, cause) ->
      System.getLogger("tasklet").log(System.Logger.Level.ERROR,
          "tasklet " + pid + " running " + fn + " crashed", cause);
}
