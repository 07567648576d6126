package tasklet.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A single-thread scheduler for tests: the thread that calls {@link #step} or
 * {@link #drive} runs every tasklet of its node, one slice at a time, and
 * which runnable tasklet runs next is a recorded choice. Same choices, same
 * run (Akka's CallingThreadDispatcher, QuickCheck PULSE's scheduler).
 *
 * <pre>
 * Choices
 * -------
 * The runnable tasklets form a list: the one that just yielded its slice
 * first (so "index 0, always" means: never preempt a tasklet that can go on),
 * then the others oldest first. Where more than one is runnable, the choice
 * is taken, in this order, from the scripted {@code choices} (modulo the list
 * size), else from a SplittableRandom seeded with {@code seed}, else 0. A
 * step where only one tasklet can run consumes no choice.
 *
 * It is {@link Scheduler#preemptive}: the node makes whereis, register,
 * unregister, spawn, link, unlink, monitor, demonitor, exit signals and
 * alive? switch points; with a reduction budget of 1 so are every send and
 * every receive.
 *
 * Time
 * ----
 * The node's timers are a {@link ManualTime}; when nothing is runnable and a
 * timer is pending, {@link #drive} advances virtual time to it.
 * </pre>
 *
 * A started continuation must always resume on the same thread (ADR 0002):
 * drive one scheduler from one thread only. Submissions from other threads
 * are accepted (they are synchronized) but make the run nondeterministic;
 * they are counted in {@link #stats()} as foreignSubmits.
 */
public final class DeterministicScheduler implements Scheduler, Tracer {
  /** What one step did: ran a tasklet (ran != null) or advanced time. */
  public static final class Step {
    public final long index;
    public final Pid ran;           // null for a time advance
    public final List<Pid> runnable;
    public final int choice;        // index taken in runnable
    public final String by;         // "only", "script", "seed", "default" or "time"
    public final long advancedNanos;
    public final List<Object[]> events = new ArrayList<>();  // {what, a, b}

    Step(long index, Pid ran, List<Pid> runnable, int choice, String by, long advancedNanos) {
      this.index = index;
      this.ran = ran;
      this.runnable = runnable;
      this.choice = choice;
      this.by = by;
      this.advancedNanos = advancedNanos;
    }
  }

  /** Outcomes of {@link #drive}. */
  public static final int DONE = 0, DEADLOCK = 1, STEP_LIMIT = 2;

  private final SplittableRandom random;  // null: no seed
  private final int[] choices;
  private int used;
  private final ArrayList<Tasklet> runnable = new ArrayList<>();
  private final ArrayList<Step> trace = new ArrayList<>();
  private int[] made = new int[16];   // choices taken where more than one could run
  private int nMade;
  private final boolean recording;
  private Step current;
  private long steps;
  private long foreign;
  private Thread driver;
  private volatile boolean shutdown;

  /**
   * {@code seed}: null for no random choices; {@code choices}: scripted
   * choices taken first (null for none); {@code record}: keep a trace of
   * every step and the events of its tasklet (sends, receives, spawns, links,
   * exits).
   */
  public DeterministicScheduler(Long seed, int[] choices, boolean record) {
    this.random = seed == null ? null : new SplittableRandom(seed);
    this.choices = choices == null ? new int[0] : choices.clone();
    this.recording = record;
  }

  @Override public synchronized void submit(Tasklet t, boolean handoff) {
    if (driver != null && Thread.currentThread() != driver) foreign++;
    if (shutdown) return;
    if (recording && t.tracer() == null) t.setTracer(this);
    runnable.add(t);
  }

  /** Tracer: record the running tasklet's events in the current step. */
  @Override public void trace(Pid pid, String what, Object a, Object b) {
    Step s = current;
    if (s != null) s.events.add(new Object[] {what, a, b});
  }

  private int choose(int n) {
    if (used < choices.length) {
      lastBy = "script";
      return Math.floorMod(choices[used++], n);
    }
    if (random != null) {
      lastBy = "seed";
      return random.nextInt(n);
    }
    lastBy = "default";
    return 0;
  }

  private String lastBy;

  /**
   * Run one slice of a runnable tasklet on the calling thread. Returns false
   * when nothing was runnable. Driver thread only.
   */
  public boolean step() {
    Tasklet t;
    synchronized (this) {
      if (driver == null) driver = Thread.currentThread();
      int n = runnable.size();
      if (n == 0) return false;
      int k;
      if (n == 1) {
        k = 0;
        lastBy = "only";
      } else {
        k = choose(n);
        if (nMade == made.length) made = java.util.Arrays.copyOf(made, nMade * 2);
        made[nMade++] = k;
      }
      List<Pid> pids = null;
      if (recording) {
        pids = new ArrayList<>(n);
        for (Tasklet r : runnable) pids.add(r.pid);
      }
      t = runnable.remove(k);
      Step s = new Step(steps, t.pid, pids, k, lastBy, 0);
      if (recording) trace.add(s);
      current = s;
      steps++;
    }
    Node node = t.node;
    Tasklet outer = Node.CURRENT.get();
    Object frame = node.context.capture();
    boolean again;
    Node.CURRENT.set(t);
    try {
      again = ContinuationStrand.runSlice(t);
    } finally {
      current = null;
      node.context.install(frame);
      if (outer == null) Node.CURRENT.remove(); else Node.CURRENT.set(outer);
    }
    if (again) {
      synchronized (this) { runnable.add(0, t); }
    }
    return true;
  }

  /**
   * Step until {@code main} has ended and nothing is runnable: then
   * {@link #DONE}. When nothing is runnable but a timer is pending in
   * {@code time}, advance virtual time to it. {@link #DEADLOCK}: nothing
   * runnable, no timer, {@code main} alive. {@link #STEP_LIMIT}: more than
   * {@code maxSteps} slices. Driver thread only.
   */
  public int drive(Tasklet main, ManualTime time, long maxSteps) {
    for (;;) {
      boolean any;
      synchronized (this) { any = !runnable.isEmpty(); }
      if (any) {
        if (steps >= maxSteps) return STEP_LIMIT;
        step();
        continue;
      }
      if (!main.isAlive()) return DONE;
      long due = time == null ? -1 : time.nextDueIn();
      if (due < 0) return DEADLOCK;
      if (recording) {
        synchronized (this) { trace.add(new Step(steps, null, List.of(), 0, "time", due)); }
      }
      time.advance(due);
    }
  }

  /** The recorded steps so far. Driver thread. */
  public synchronized List<Step> trace() { return new ArrayList<>(trace); }

  /** The choices made where more than one tasklet was runnable, in order. */
  public synchronized int[] choicesMade() {
    return java.util.Arrays.copyOf(made, nMade);
  }

  /** The tasklets runnable now, in choice order. Any thread. */
  public synchronized List<Pid> runnable() {
    List<Pid> out = new ArrayList<>(runnable.size());
    for (Tasklet t : runnable) out.add(t.pid);
    return out;
  }

  /** Always: exploring interleavings is what it is for. */
  @Override public boolean preemptive() { return true; }

  @Override public synchronized SchedulerStats stats() {
    return new SchedulerStats(1, 1, new int[] {runnable.size()}, 0, 0, 0, 0, 0, 0,
        new SchedulerStats.Deterministic(steps, used, foreign));
  }

  @Override public synchronized void shutdown() {
    shutdown = true;
    runnable.clear();
  }
}
