package tasklet.kernel;

/**
 * Where the {@link WorkerPool} puts a tasklet spawned from outside it (a
 * plain thread: the REPL, a test, a network thread): the spawns a thread
 * makes in quick succession go to one worker, as a tasklet's go to its own
 * worker (doc/adr/0003).
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Each spawning thread has a burst: the worker its last spawn went to and
 * the watchdog period it happened in. A spawn joins its thread's burst while
 *  - the previous one was at most BURST_PERIODS watchdog periods ago
 *    (about 10 ms: a group spawned together, such as a fan-in receiver and
 *    its senders, even when the OS descheduled the spawner in between), and
 *  - the burst's worker is not flagged slow or backlogged (it is not getting
 *    to its new tasklets: more would only wait there), and has not retired.
 * Otherwise it starts a new burst on the least loaded worker: the first one
 * running nothing with nothing queued, else the one with the least queued.
 * The tasklet goes to that worker's arrivals queue, served with its new
 * tasklets (after its fresh ring and overflow) and counted, so that the
 * watchdog flags the worker backlogged exactly when an arrival from before
 * its last sample still waits; a group spawned from outside starts on one
 * worker and spreads only the way a tasklet's spawns do (a thief takes
 * never-run tasklets from a flagged worker: ring, overflow, then arrivals).
 *
 * Why: spawns from outside went to a global queue, and which worker took
 * each one was a race between the worker already polling and the one the
 * ramp-up rule woke. Bench W4 (a receiver and four senders spawned from the
 * measuring thread) ran at about 20M messages/s when all five landed on one
 * worker and at 4-5M when the receiver and the senders were split, from run
 * to run in one JVM (doc/adr/0009).
 *
 * The burst is kept in a ThreadLocal of this pool (only plain threads'
 * spawns read it; a worker's spawns never come here). Its fields are the
 * spawning thread's own; worker fields read to choose are read racily: a
 * stale load only makes a worse choice, never a wrong queue.
 * </pre>
 */
final class OutsideSpawns {
  static final int BURST_PERIODS = 5;

  /** A spawning thread's current burst. Owned by that thread. */
  private static final class Burst {
    Worker worker;
    int period;
  }

  private final WorkerPool pool;
  private final ThreadLocal<Burst> bursts = ThreadLocal.withInitial(Burst::new);

  OutsideSpawns(WorkerPool pool) {
    this.pool = pool;
  }

  /** The worker the calling thread's next new tasklet goes to, or null when none is running. */
  Worker place() {
    Burst b = bursts.get();
    int now = pool.period();
    Worker w = b.worker;
    if (w == null || w.retired || w.slow || w.backlogged || now - b.period > BURST_PERIODS) {
      w = leastLoaded(pool.workers());
      b.worker = w;
    }
    b.period = now;
    return w;
  }

  private static Worker leastLoaded(Worker[] ws) {
    Worker best = null;
    int bestLoad = Integer.MAX_VALUE;
    for (Worker w : ws) {
      if (w.retired) continue;
      int load = w.load();
      if (load == 0) return w;
      if (load < bestLoad) {
        best = w;
        bestLoad = load;
      }
    }
    return best;
  }
}
