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
 *  - the burst's worker has not retired.
 * Otherwise it starts a new burst on the least loaded worker: the first one
 * running nothing with nothing queued, else the one with the least queued.
 * Within a burst, where the next spawn goes depends on the burst's length:
 *  - a short burst (fewer than BURST_SPAWNS so far) stays on its worker
 *    unless that worker is flagged slow or backlogged (it is not getting to
 *    its new tasklets: more would only wait there); then the spawn goes to
 *    the least loaded worker;
 *  - a long burst is placed in pieces of BURST_SPAWNS, each on the next
 *    worker in turn that is not flagged slow (a slice computing across two
 *    samples), so each worker gets an equal share; a piece also moves on
 *    early when its worker turns slow. Backlogged does not count here: in a
 *    long burst the spawner outruns the pool and every worker is backlogged
 *    by turns, and going by load then is what made the shares uneven.
 * The tasklet goes to that worker's arrivals queue, served with its new
 * tasklets (after its fresh ring and overflow) and counted, so that the
 * watchdog flags the worker backlogged exactly when an arrival from before
 * its last sample still waits; a group spawned from outside starts on one
 * worker and spreads only the way a tasklet's spawns do (a thief takes
 * never-run tasklets from a flagged worker: ring, overflow, then arrivals).
 *
 * Why the pieces: a tasklet stays on the worker it first ran on (its home,
 * WorkerPool), so where a burst's tasklets start is where their later work
 * runs. Bench W1 spawns a million waiters from one thread, then wakes them
 * all; a whole burst on one worker left the other to take only what the
 * watchdog's flags lent it, and the homes came out 23/77 to 50/50 from run
 * to run, so at the end one worker idled while the other still ended its
 * share (1.46-1.65 cores busy, up to 1.7x slower; doc/adr/0011, session 5).
 * Pieces by turn, not by load: with the short burst's rule (least loaded
 * once flagged) throughout, or with pieces given to the least loaded, a
 * worker that was parked or descheduled while the spawner ran got fewer
 * spawns: 8,192 spawns came out beyond 60/40 in 14 rounds of 100, up to
 * 98/2 (scheduler-test's long-burst test; without pieces 4 of 5, up to
 * 100/0; by turn none of 100). A group spawned together (a fan-in receiver and its senders, W4)
 * is far smaller than a piece and starts a burst of its own when the thread
 * paused before it, so it stays together.
 *
 * Why one worker per burst: spawns from outside went to a global queue, and which worker took
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
  /** Spawns placed on one worker before a burst moves on to the next piece. */
  static final int BURST_SPAWNS = 512;

  /** A spawning thread's current burst. Owned by that thread. */
  private static final class Burst {
    Worker worker;
    int period;
    int spawns;     // placed on worker since this piece began
    int total;      // placed since this burst began (saturates)
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
    if (w == null || w.retired || now - b.period > BURST_PERIODS) {
      w = leastLoaded(pool.workers());
      b.worker = w;
      b.spawns = 0;
      b.total = 0;
    } else if (b.total < BURST_SPAWNS ? w.slow || w.backlogged : b.spawns >= BURST_SPAWNS || w.slow) {
      w = b.total < BURST_SPAWNS ? leastLoaded(pool.workers()) : nextInTurn(pool.workers(), w);
      b.worker = w;
      b.spawns = 0;
    }
    b.spawns++;
    if (b.total < Integer.MAX_VALUE) b.total++;
    b.period = now;
    return w;
  }

  /**
   * The first worker after {@code w} in ws (cyclically, w last) that has not retired and
   * is not flagged slow (backlogged does not count in a long burst: see the class comment);
   * the least loaded when every one is retired or slow.
   */
  private static Worker nextInTurn(Worker[] ws, Worker w) {
    int from = 0;
    for (int i = 0; i < ws.length; i++) {
      if (ws[i] == w) {
        from = i + 1;
        break;
      }
    }
    for (int k = 0; k < ws.length; k++) {
      Worker v = ws[(from + k) % ws.length];
      if (!v.retired && !v.slow) return v;
    }
    return leastLoaded(ws);
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
