package tasklet.kernel;

/**
 * The kernel's view of other nodes, installed by the distribution layer
 * (tasklet.node). Until one is installed, pids of other nodes are unreachable:
 * sends to them are dropped and signals to them yield {@code :noproc}, as for a
 * node that cannot be connected. Every method: any thread.
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
  /** Monitor {@code dest} (a remote pid, or a [name node] destination) on behalf of local {@code watcher}. */
  void monitor(Pid watcher, Ref ref, Object dest);
  /** Remove a remote monitor. */
  void demonitor(Pid watcher, Ref ref, Object dest);
  /** Whether a remote pid is alive (asks its node; false when unreachable). */
  boolean alive(Pid pid);
  /**
   * Deliver {@code msg} through alias {@code to} of another node, whose node
   * drops it unless the alias is active there (see {@link Aliases}). A
   * default for layers that predate aliases: dropped.
   */
  default void sendAlias(Ref to, Object msg) {}
}
