package tasklet.kernel;

import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;

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
  Tasklet next;                 // homed tasklet woken by the one running now (hand-off): owner only
  boolean inSlice;              // running a slice now (owner writes; the watchdog reads racily). Not the
                                // tasklet itself: see ContinuationStrand.current
  Object frame = Tasklet.NO_CONTEXT; // the context this thread holds between slices (Tasklet.installContext): owner only
  volatile int schedtick;       // bumped for every slice; the watchdog samples it
  volatile int idle;            // ACTIVE, IDLE (parked), WOKEN (cas by a waker: wake as a spinner)
  boolean spinning;             // looking for work to steal (owner only; counted in nSpinning)
  volatile boolean compensated; // the watchdog added a worker while this one was stuck
  volatile boolean slow;        // the watchdog saw one slice run long: thieves may take new tasklets
  int homed;                    // live tasklets homed here (owner only: they start and end here)
  final ConcurrentLinkedQueue<Tasklet> overflow = new ConcurrentLinkedQueue<>(); // new tasklets past fresh's capacity: owner adds
  volatile boolean backlogged;  // the watchdog saw a new tasklet wait a whole period: thieves may take some
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
    return next != null || !local.isEmpty() || !inbox.isEmpty();
  }

  /** Whether new (never-run) tasklets wait here. Any thread. */
  boolean hasNewWork() {
    return fresh.hasWork() || !overflow.isEmpty();
  }

  /** Whether thieves may take new tasklets from here: flagged by the watchdog, and some wait. Any thread. */
  boolean lendsNewWork() {
    return (slow || backlogged) && hasNewWork();
  }

  @Override public void run() { pool.loop(this); }
}
