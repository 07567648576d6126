package tasklet.kernel;

import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A scheduler thread ("tasklet-worker-N"). A continuation tasklet that has run
 * on a worker is homed there and always resumes there (see {@link WorkerPool}
 * for why); tasklets that never ran sit in the stealable {@link #fresh} queue.
 */
final class Worker extends Thread {
  static final int ACTIVE = 0, IDLE = 1, WOKEN = 2;

  final WorkerPool pool;
  final RunQueue fresh = new RunQueue();            // never-run tasklets: owner and thieves
  final ArrayDeque<Tasklet> local = new ArrayDeque<>(); // homed tasklets to run: owner only
  final ConcurrentLinkedQueue<Tasklet> inbox = new ConcurrentLinkedQueue<>(); // homed, woken by other threads
  /**
   * The two references the worker writes every slice or hop, in an object of
   * their own that the worker replaces every {@link #SLOTS_RENEW} slices, so
   * that it is young whenever they are written. Why: under G1 (JDK 25) a
   * reference store into an object of an old region takes a StoreLoad fence
   * in the post-write barrier, and a Worker is old for life (after the first
   * full collection at the latest; `make bench` runs one before every run);
   * a store into a young object leaves the barrier at its young-card check.
   * Measured, W2 after System.gc: ~13 ns a hop (doc/adr/0008, third round).
   * Only the owner replaces or writes it; others read it racily (estimates).
   */
  static final class Slots {
    Tasklet next;               // homed tasklet woken by the one running now (hand-off): owner only
    Tasklet current;            // the tasklet running now; read by Node.currentTasklet() on this thread
  }

  /** Slices between two replacements of {@link #slots}: far fewer than a tenuring's worth of young collections. */
  static final int SLOTS_RENEW = 4096;

  Slots slots = new Slots();    // owner writes; see Slots
  Object frame = Tasklet.NO_CONTEXT; // the context this thread holds between slices (Tasklet.installContext): owner only
  volatile int schedtick;       // bumped for every slice; the watchdog samples it
  volatile int idle;            // ACTIVE, IDLE (parked), WOKEN (cas by a waker: wake as a spinner)
  boolean spinning;             // looking for work to steal (owner only; counted in nSpinning)
  volatile boolean compensated; // the watchdog added a worker while this one was stuck
  volatile boolean slow;        // the watchdog saw one slice run long: thieves may take new tasklets
  int homed;                    // live tasklets homed here (owner only: they start and end here)
  final ConcurrentLinkedQueue<Tasklet> overflow = new ConcurrentLinkedQueue<>(); // new tasklets past fresh's capacity: owner adds
  final ConcurrentLinkedQueue<Tasklet> arrivals = new ConcurrentLinkedQueue<>(); // new tasklets placed here by plain threads (OutsideSpawns)
  final AtomicInteger arrived = new AtomicInteger(); // arrivals offered so far (spawners add after the offer)
  final AtomicInteger taken = new AtomicInteger();   // arrivals taken so far (the owner and thieves add)
  volatile boolean retired;     // left the pool: spawners must not place tasklets here any more
  volatile boolean backlogged;  // the watchdog saw a new tasklet wait a whole period: thieves may take some
  volatile int sampledTail;     // fresh's tail at the watchdog's last sample (the watchdog writes)
  volatile int sampledArrived;  // arrived at the watchdog's last sample (the watchdog writes)
  int nextStreak;               // consecutive runs from the next slot (owner only)
  int sinceFresh;               // homed tasklets run since a new one last got a turn (owner only)
  // counters, owner-written plain longs (no cost on any path but the increment), read racily by
  // reflection by bench/tasklet/bench/perf_savina.clj (doc/adr/0009)
  long slices;                  // slices run
  long fromInbox;               // homed tasklets woken by another thread (taken from the inbox)
  long parks;                   // times this worker parked in the OS
  long spinYields;              // Thread.yield calls while polling before a park

  Worker(WorkerPool pool, int id) {
    super("tasklet-worker-" + id);
    this.pool = pool;
    setDaemon(true);
  }

  /** Whether homed work waits here. Owner only (the inbox part: any thread). */
  boolean hasOwnWork() {
    return slots.next != null || !local.isEmpty() || !inbox.isEmpty();
  }

  /** Whether new (never-run) tasklets wait here. Any thread. */
  boolean hasNewWork() {
    return fresh.hasWork() || !overflow.isEmpty() || !arrivals.isEmpty();
  }

  /**
   * About how much waits here, 0 when nothing runs and nothing is queued:
   * where a plain thread's next burst of spawns should go (OutsideSpawns).
   * Any thread (racy reads: an estimate).
   */
  int load() {
    int n = fresh.size();
    Slots sl = slots;
    if (sl.current != null) n++;
    if (sl.next != null || !local.isEmpty() || !inbox.isEmpty()) n++;
    n += Math.max(0, arrived.get() - taken.get());
    if (!overflow.isEmpty()) n += RunQueue.CAPACITY;
    if (slow || backlogged) n += 2 * RunQueue.CAPACITY;
    return n;
  }

  /** Whether thieves may take new tasklets from here: flagged by the watchdog, and some wait. Any thread. */
  boolean lendsNewWork() {
    return (slow || backlogged) && hasNewWork();
  }

  /** Whether a new tasklet queued here before the watchdog's last sample still waits. Owner only. */
  boolean startsLate() {
    return fresh.headIndex() - sampledTail < 0 || taken.get() - sampledArrived < 0;
  }

  /**
   * Replace {@link #slots} by a fresh (young) copy. Owner only, between two
   * slices (current is null).
   */
  void renewSlots() {
    Slots fresh = new Slots();
    fresh.next = slots.next;
    slots = fresh;
  }

  /** Place a new tasklet from a plain thread here. Any thread; the caller wakes this worker. */
  void arrive(Tasklet t) {
    arrivals.offer(t);
    arrived.incrementAndGet();   // after the offer: taken never runs ahead of a real wait
  }

  /** The oldest arrival, or null. Any thread. */
  Tasklet pollArrival() {
    Tasklet t = arrivals.poll();
    if (t != null) taken.incrementAndGet();
    return t;
  }

  @Override public void run() { pool.loop(this); }
}
