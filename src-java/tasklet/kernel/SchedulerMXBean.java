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

    private Object get(String k) {
      java.util.Map<String, Object> m = node.schedulerStats();
      return m == null ? null : m.get(k);
    }

    private long num(String k) {
      Object v = get(k);
      return v instanceof Number n ? n.longValue() : 0L;
    }

    @Override public String getStrand() { return node.strandName(); }
    @Override public int getParallelism() { return (int) num("parallelism"); }
    @Override public int getWorkers() { return (int) num("workers"); }
    @Override public int[] getRunQueueLengths() {
      Object v = get("run-queue-lengths");
      return v instanceof int[] a ? a.clone() : new int[0];
    }
    @Override public int getGlobalQueueLength() { return (int) num("global-queue-length"); }
    @Override public int getIdleWorkers() { return (int) num("idle-workers"); }
    @Override public long getSteals() { return num("steals"); }
    @Override public long getWakeUps() { return num("wake-ups"); }
    @Override public long getCompensations() { return num("compensations"); }
    @Override public long getRetirements() { return num("retirements"); }
    @Override public int getTaskletsAlive() { return node.processCount(); }
  }
}
