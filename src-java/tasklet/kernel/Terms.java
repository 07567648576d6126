package tasklet.kernel;

/**
 * The Clojure values the kernel speaks, supplied by the Clojure layer
 * (tasklet.core installs one at load): exit reasons, the shapes of system
 * messages, and errors. Keeps the kernel free of Clojure types other than IFn.
 * Implementations must be thread-safe and cheap: they are called on signal paths.
 */
public interface Terms {
  /** The reason of a tasklet whose function returned ({@code :normal}). */
  Object normal();
  /** The untrappable reason of {@code (exit pid :kill)} ({@code :kill}). */
  Object kill();
  /** The reason a killed tasklet ends with ({@code :killed}). */
  Object killed();
  /** The reason for a target that does not exist ({@code :noproc}). */
  Object noproc();
  /** The reason for a lost node ({@code :noconnection}). */
  Object noconnection();
  /** {@code [:EXIT from reason]}, the message a trapping tasklet gets. */
  Object exitMessage(Pid from, Object reason);
  /** {@code [:DOWN ref :process who reason]}, the message a monitor delivers. */
  Object downMessage(Ref ref, Object who, Object reason);
  /**
   * {@code [:mailbox-overflow limit]}, the reason a tasklet ends with when
   * more than {@code limit} messages are queued (spawn-opt :max-mailbox).
   */
  default Object mailboxOverflow(int limit) { return java.util.List.of("mailbox-overflow", limit); }
  /**
   * An exception for bad input: {@code kind} becomes {@code :tasklet/error}
   * (e.g. "badarg", "noproc"), {@code kvs} alternate keys and values added to
   * its data. Returned, not thrown, so call sites read {@code throw terms.error(...)}.
   */
  RuntimeException error(String kind, String message, Object... kvs);

  /** Plain-Java terms for kernel tests that run without Clojure's layer. */
  Terms PLAIN = new Terms() {
    public Object normal() { return "normal"; }
    public Object kill() { return "kill"; }
    public Object killed() { return "killed"; }
    public Object noproc() { return "noproc"; }
    public Object noconnection() { return "noconnection"; }
    public Object exitMessage(Pid from, Object reason) { return java.util.List.of("EXIT", from, reason); }
    public Object downMessage(Ref ref, Object who, Object reason) {
      return java.util.List.of("DOWN", ref, "process", who, reason);
    }
    public RuntimeException error(String kind, String message, Object... kvs) {
      return new IllegalArgumentException(kind + ": " + message);
    }
  };
}
