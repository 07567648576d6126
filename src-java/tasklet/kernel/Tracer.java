package tasklet.kernel;

/**
 * Receives the events of a traced tasklet (Erlang's {@code erlang:trace}). Set
 * per tasklet with {@link Tasklet#setTracer}; an untraced tasklet pays one null
 * check per event site. Called on the traced tasklet's own strand (inside its
 * send, receive, spawn, link or end), so it must be quick and must not
 * suspend: deliver with {@link Node#deliver}, never with {@link Node#send}
 * (which would trace the delivery itself).
 */
public interface Tracer {
  /**
   * One event of {@code pid}. {@code what} and its arguments:
   * "send" (msg, to), "receive" (msg, null), "spawn" (child pid, initial fn),
   * "link" (other pid, null), "exit" (reason, null); on a node with a
   * {@link DeterministicScheduler} also "whereis" (name, pid or null),
   * "register" (name, pid) and "unregister" (name, pid).
   */
  void trace(Pid pid, String what, Object a, Object b);
}
