package tasklet.kernel;

/**
 * JMX view of one node's scheduler ({@code tasklet:type=Scheduler,node=<name>}),
 * registered by {@code tasklet.observe/register-mbean!}. Every attribute is
 * read live from {@link Node#schedulerStats()}; on the virtual-thread strand
 * (no kernel scheduler) the scheduler attributes are 0 or empty.
 */
public interface SchedulerMXBean {
  /** "continuation" or "virtual". */
  String getStrand();
  /** Configured number of workers. */
  int getParallelism();
  /** Workers now running (including compensating ones). */
  int getWorkers();
  /** Per-worker run-queue lengths. */
  int[] getRunQueueLengths();
  /** Tasklets in the global queue. */
  int getGlobalQueueLength();
  /** Parked workers. */
  int getIdleWorkers();
  /** Tasklets stolen between workers so far. */
  long getSteals();
  /** Parked workers woken (unparked) by submitters so far. */
  long getWakeUps();
  /** Compensating workers started so far (a worker was blocked). */
  long getCompensations();
  /** Surplus workers retired so far. */
  long getRetirements();
  /** Live tasklets on the node. */
  int getTaskletsAlive();

  /** The live implementation over a node. */
  final class Impl implements SchedulerMXBean {
    private final Node node;

    public Impl(Node node) { this.node = node; }

    private SchedulerStats stats() {
      SchedulerStats s = node.schedulerStats();
      return s == null ? new SchedulerStats(0, 0, new int[0], 0, 0, 0, 0, 0, 0, null) : s;
    }

    @Override public String getStrand() { return node.strandName(); }
    @Override public int getParallelism() { return stats().parallelism(); }
    @Override public int getWorkers() { return stats().workers(); }
    @Override public int[] getRunQueueLengths() { return stats().runQueueLengths().clone(); }
    @Override public int getGlobalQueueLength() { return stats().globalQueueLength(); }
    @Override public int getIdleWorkers() { return stats().idleWorkers(); }
    @Override public long getSteals() { return stats().steals(); }
    @Override public long getWakeUps() { return stats().wakeUps(); }
    @Override public long getCompensations() { return stats().compensations(); }
    @Override public long getRetirements() { return stats().retirements(); }
    @Override public int getTaskletsAlive() { return node.processCount(); }
  }
}
