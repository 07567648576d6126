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
   * "register" (name, pid), "unregister" (name, pid), "unlink" (pid, null),
   * "monitor" (destination, ref), "demonitor" (ref, whether it was active),
   * "alive?" (pid, answer) and "signal" (pid, exit reason sent to it): the
   * switch points of {@link Node#preempt}.
   */
  void trace(Pid pid, String what, Object a, Object b);
}
