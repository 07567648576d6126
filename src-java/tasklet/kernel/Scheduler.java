package tasklet.kernel;

/**
 * Runs continuation tasklets. The real one is {@link WorkerPool}; the interface
 * exists so that tests (and the deterministic scheduler) can drive tasklets
 * step by step instead.
 */
public interface Scheduler {
  /**
   * Make {@code t} (state RUNNABLE) run soon. {@code handoff}: the caller just
   * sent {@code t} a message and will probably wait for the answer, so run
   * {@code t} next on the caller's worker (ping-pong locality). Any thread.
   */
  void submit(Tasklet t, boolean handoff);

  /** Counters for observability (workers, steals, compensations...). Any thread. */
  SchedulerStats stats();

  /**
   * Whether the node must give this scheduler a switch point inside every
   * kernel operation whose outcome another tasklet can race (a registry
   * operation, a spawn, a link, monitor or exit signal, an alive? check): see
   * {@link Node#preempt}. Only a test scheduler that explores interleavings
   * wants them. Any thread.
   */
  default boolean preemptive() { return false; }

  /** Stop all workers; tasklets still waiting never run again. Any thread. */
  void shutdown();
}
