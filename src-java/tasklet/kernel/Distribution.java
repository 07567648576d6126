package tasklet.kernel;

/**
 * The kernel's view of other nodes, installed by the distribution layer
 * (tasklet.node). The kernel routes: {@code send}, {@code link},
 * {@code exit}, {@code monitor}, {@code demonitor} and {@code alive?} of a pid
 * not of this JVM come here, the local case never does. Until one is
 * installed, pids of other nodes are unreachable: sends to them are dropped
 * and signals to them yield {@code :noproc}, as for a node that cannot be
 * connected. Every method: any thread, never holding a tasklet's monitor.
 */
public interface Distribution {
  /** Deliver {@code msg} to a pid on another node. */
  void send(Pid to, Object msg);
  /** Deliver {@code msg} to {@code name} registered on {@code node}. */
  void sendNamed(Object name, String node, Object msg);
  /** Exit signal from a local pid to a remote one ({@code link} propagation or exit/2). */
  void exit(Pid from, Pid to, Object reason, boolean linked);
  /** Establish the remote half of a link from local {@code from} to remote {@code to}. */
  void link(Pid from, Pid to);
  /** Remove the remote half of a link. */
  void unlink(Pid from, Pid to);
  /**
   * Monitor {@code dest} (a remote pid, or a [name node] destination) on
   * behalf of local {@code watcher}. The kernel ({@link Monitors#monitor},
   * {@link Monitors#monitorName}) has already put {@code ref} in the
   * watcher's table, so the monitor's every outcome is delivered with
   * {@link Monitors#fire}: at once when it cannot be set up
   * ({@code :noconnection}, {@code :noproc}), later when the target ends or
   * its node is lost. Fire delivers only while the watcher still has the
   * monitor, so it needs no other bookkeeping against a racing demonitor.
   */
  void monitor(Pid watcher, Ref ref, Object dest);
  /**
   * The watcher removed its live monitor {@code ref} of {@code dest} (a
   * demonitor, or the watcher's end): drop the remote half. Called exactly
   * once per monitor that did not fire, never for one that fired.
   */
  void demonitor(Pid watcher, Ref ref, Object dest);
  /**
   * Whether a remote pid is alive (asks its node, over the connection that
   * carries the caller's signals; false when unreachable). The kernel's
   * {@link Node#isAlive} calls it for every pid not of this JVM.
   */
  boolean alive(Pid pid);
  /**
   * Deliver {@code msg} through alias {@code to} of another node, whose node
   * drops it unless the alias is active there (see {@link Aliases}). A
   * default for layers that predate aliases: dropped.
   */
  default void sendAlias(Ref to, Object msg) {}
}
