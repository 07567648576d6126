package tasklet.kernel;

/**
 * Settings of one {@link Node}: its identity, strand, scheduler and timers.
 * Immutable once built; make one with {@link #builder(String)} (as
 * {@code tasklet.net.Config} is made), then {@code new Node(options)}.
 *
 * <table>
 *   <caption>Settings and defaults</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>name</td><td>(required)</td><td>the node's name, unique among the live nodes of this JVM</td></tr>
 *   <tr><td>incarnation</td><td>0</td><td>distinguishes restarts of a node with the same name (32 bits, as OTP's creation; distribution gives a node a random non-zero one)</td></tr>
 *   <tr><td>strand</td><td>property tasklet.strand</td><td>"continuation", "virtual" or "" (see {@link Strand#kind})</td></tr>
 *   <tr><td>parallelism</td><td>property tasklet.workers, else cores</td><td>workers of the WorkerPool</td></tr>
 *   <tr><td>maxWorkers</td><td>property tasklet.max-workers, else 256</td><td>workers including compensation</td></tr>
 *   <tr><td>reductionBudget</td><td>property tasklet.reductions, else 2000</td><td>messages per time slice (at most 32,766)</td></tr>
 *   <tr><td>idleSpinMicros</td><td>property tasklet.idle-spin-us, else 100</td><td>how long an idle worker polls before it parks</td></tr>
 *   <tr><td>timers</td><td>a SystemTimers</td><td>the node's clock and timer wheel (a ManualTime in tests)</td></tr>
 *   <tr><td>scheduler</td><td>a WorkerPool</td><td>runs continuation tasklets (a DeterministicScheduler in tests)</td></tr>
 *   <tr><td>crashHandler</td><td>the JVM's</td><td>this node's own crash handler</td></tr>
 *   <tr><td>shareRegistryWith</td><td>none</td><td>a node whose name registry the new node shares</td></tr>
 * </table>
 *
 * <p>Any thread (immutable). The builder is for one thread at a time.
 */
public final class NodeOptions {
  final String name;
  final int incarnation;
  final String strand;
  final int parallelism;
  final int maxWorkers;
  final int reductionBudget;
  final long idleSpinMicros;
  final Timers timers;
  final Scheduler scheduler;
  final CrashHandler crashHandler;
  final Node shareRegistryWith;

  private NodeOptions(Builder b) {
    this.name = b.name;
    this.incarnation = b.incarnation;
    this.strand = b.strand;
    this.parallelism = b.parallelism;
    this.maxWorkers = b.maxWorkers;
    this.reductionBudget = b.reductionBudget;
    this.idleSpinMicros = b.idleSpinMicros;
    this.timers = b.timers;
    this.scheduler = b.scheduler;
    this.crashHandler = b.crashHandler;
    this.shareRegistryWith = b.shareRegistryWith;
  }

  /** A builder for a node called {@code name}, with the defaults above. Any thread. */
  public static Builder builder(String name) { return new Builder(name); }

  /** The node's name. Any thread. */
  public String name() { return name; }

  @Override public String toString() {
    return "NodeOptions[" + name + "/" + incarnation + (strand.isEmpty() ? "" : " " + strand) + "]";
  }

  /** Builds {@link NodeOptions}; each setter returns the builder. One thread at a time. */
  public static final class Builder {
    private final String name;
    private int incarnation = 0;
    private String strand = System.getProperty("tasklet.strand", "");
    private int parallelism = Integer.getInteger("tasklet.workers", Runtime.getRuntime().availableProcessors());
    private int maxWorkers = Integer.getInteger("tasklet.max-workers", 256);
    private int reductionBudget = Integer.getInteger("tasklet.reductions", 2000);
    private long idleSpinMicros = Long.getLong("tasklet.idle-spin-us", 100L);
    private Timers timers;
    private Scheduler scheduler;
    private CrashHandler crashHandler;
    private Node shareRegistryWith;

    private Builder(String name) {
      if (name == null || name.isEmpty()) throw new IllegalArgumentException("a node's name must not be empty");
      this.name = name;
    }

    /** Sets the incarnation (default 0). */
    public Builder incarnation(int v) { incarnation = v; return this; }

    /** Sets the strand: "continuation", "virtual", or "" for the default (see {@link Strand#kind}). */
    public Builder strand(String v) { strand = v == null ? "" : v; return this; }

    /** Sets the number of workers (at least 1). */
    public Builder parallelism(int v) { parallelism = Math.max(1, v); return this; }

    /** Sets the most workers, compensation included (at least 1). */
    public Builder maxWorkers(int v) { maxWorkers = Math.max(1, v); return this; }

    /** Sets the reductions (messages taken, sends) per time slice (at least 1). */
    public Builder reductionBudget(int v) { reductionBudget = Math.max(1, v); return this; }

    /** Sets how long an idle worker polls for work before it parks, in microseconds (0: at once). */
    public Builder idleSpinMicros(long v) { idleSpinMicros = Math.max(0, v); return this; }

    /** Sets the timers (default: a new SystemTimers, stopped with the node). */
    public Builder timers(Timers v) { timers = v; return this; }

    /** Sets the scheduler of the continuation strand (default: a new WorkerPool). */
    public Builder scheduler(Scheduler v) { scheduler = v; return this; }

    /** Sets this node's own crash handler (default null: the JVM's, see Node.setDefaultCrashHandler). */
    public Builder crashHandler(CrashHandler v) { crashHandler = v; return this; }

    /**
     * Shares {@code n}'s name registry (null: its own): the node that
     * distribution replaces as the default keeps its tasklets, and the names
     * they registered stay visible from the new default node.
     */
    public Builder shareRegistryWith(Node n) { shareRegistryWith = n; return this; }

    /** The options. */
    public NodeOptions build() { return new NodeOptions(this); }
  }
}
