package tasklet.kernel;

/**
 * Unwinds a tasklet's stack when it ends by {@code exit} or by an exit signal.
 * An {@link Error} so that ordinary {@code (catch Exception e ...)} does not
 * swallow it; code that catches Throwable must rethrow it. Carries no stack
 * trace: it is control flow, not a diagnosis.
 */
public final class TaskletExit extends Error {
  public final transient Object reason;

  public TaskletExit(Object reason) {
    super("tasklet exit: " + reason, null, false, false);
    this.reason = reason;
  }
}
