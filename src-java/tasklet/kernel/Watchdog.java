package tasklet.kernel;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@link WorkerPool}'s monitor thread ("tasklet-watchdog", Go's sysmon):
 * every WATCH_NANOS it samples each worker and flags what thieves may take,
 * starts a compensating worker for a blocked one, and runs the node's
 * housekeeping about every 100 ms.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Per worker and sample:
 *  - backlogged: a new tasklet queued before the previous sample still waits
 *    (the fresh ring's head has not passed the tail seen then, the
 *    overflow's oldest is the one seen then, or fewer arrivals from plain
 *    threads were taken than had come then). Thieves may then take half.
 *    The tail and arrival count seen are also published to the worker, which
 *    starts such late tasklets every other turn (WorkerPool.pollOwn).
 *  - slow: one slice has run for two samples while new tasklets wait. Thieves
 *    may take even a lone new tasklet.
 *  - blocked: one slice for STUCK_CHECKS samples while stealable work waits,
 *    and the worker's thread is not computing. Then a compensating worker
 *    starts. Not computing means its thread state is not RUNNABLE (sleep, a
 *    lock, a pinned park), or, for RUNNABLE (native I/O), that it has used
 *    less than 5% of the wall time in CPU for RUNNABLE_CHECKS samples (0.5 s:
 *    at a load of 11 on 2 cores, a worker descheduled by the OS, or giving
 *    its CPU away in Thread.yield, was seen at under 5% for 50 ms).
 *    Why not every stuck slice, as before: a worker descheduled by the OS
 *    (2 cores shared with other processes) or running a long computation
 *    looks stuck for 10 ms too; a compensating worker then takes the new
 *    tasklets of the moment, which are homed on it for life, and a 2-core
 *    machine runs three busy workers. Measured on W4 fan-in: compensations
 *    in some runs put the receiver and its senders on workers 3..12 and cost
 *    5-10x. A computing slice needs no extra worker: slow already lets its
 *    new tasklets move, and its homed ones wait for it either way.
 * Every field here is the watchdog thread's own; it reads workers' fields
 * racily (volatile where the worker writes them).
 * </pre>
 */
final class Watchdog implements Runnable {
  static final long WATCH_NANOS = 2_000_000L;
  static final int STUCK_CHECKS = 5;
  static final int RUNNABLE_CHECKS = 250;
  private static final int HOUSEKEEPING_EVERY = 50;

  /** What the watchdog saw of one worker at the previous sample. */
  private static final class Seen {
    int tail;                 // the fresh ring's tail
    Tasklet overflowHead;     // the overflow's oldest
    int arrived;              // the arrivals counted so far
    int tick;                 // the slice counter
    int stuckChecks;          // samples with the same slice running
    long cpuNanos = -1;       // the thread's CPU time when the slice was first seen stuck
  }

  private final WorkerPool pool;
  private final Runnable housekeeping;
  private final Map<Worker, Seen> seen = new IdentityHashMap<>();
  private ThreadMXBean threads;   // made on first need: keeps java.management off a node's start-up

  Watchdog(WorkerPool pool, Runnable housekeeping) {
    this.pool = pool;
    this.housekeeping = housekeeping;
  }

  @Override public void run() {
    long rounds = 0;
    while (!pool.isShutdown()) {
      LockSupport.parkNanos(WATCH_NANOS);
      pool.periodPassed();
      Worker[] ws = pool.workers();
      if (seen.size() > ws.length) seen.keySet().retainAll(java.util.Arrays.asList(ws));
      for (Worker w : ws) sampleQueues(w, seen.computeIfAbsent(w, k -> new Seen()));
      boolean pending = pool.hasStealableWork();
      for (Worker w : ws) sampleSlice(w, seen.get(w), pending);
      if (++rounds % HOUSEKEEPING_EVERY == 0 && housekeeping != null) {
        try {
          housekeeping.run();
        } catch (Throwable e) {
          System.getLogger("tasklet").log(System.Logger.Level.WARNING, "housekeeping failed", e);
        }
      }
    }
  }

  private void sampleQueues(Worker w, Seen s) {
    // a new tasklet queued before the previous sample still waits: it has
    // waited a whole period, so an idle worker may take some
    Tasklet oldest = w.overflow.peek();
    int arrived = w.arrived.get();
    boolean waited = w.fresh.headIndex() - s.tail < 0
        || (oldest != null && oldest == s.overflowHead)
        || w.taken.get() - s.arrived < 0;
    if (waited && !w.backlogged) {
      w.backlogged = true;
      pool.wakeOne();
    } else if (!waited && w.backlogged) {
      w.backlogged = false;
    }
    s.tail = w.fresh.tailIndex();
    s.arrived = arrived;
    w.sampledTail = s.tail;
    w.sampledArrived = arrived;
    s.overflowHead = oldest;
  }

  private void sampleSlice(Worker w, Seen s, boolean pending) {
    int tick = w.schedtick;
    if (w.slots.current == null || tick != s.tick) {
      s.tick = tick;
      s.stuckChecks = 0;
      s.cpuNanos = -1;
      return;
    }
    int checks = ++s.stuckChecks;
    if (checks >= 2 && !w.slow && w.hasNewWork()) {
      w.slow = true;   // let an idle worker take even a lone new tasklet from it
      pool.wakeOne();
    }
    if (checks == 2) s.cpuNanos = cpuNanos(w);
    if (checks >= STUCK_CHECKS && pending && !w.compensated && blocked(w, s)) {
      w.compensated = true;
      pool.compensate();
    }
  }

  /** Whether a worker stuck on one slice is waiting rather than computing or descheduled. */
  private boolean blocked(Worker w, Seen s) {
    if (w.getState() != Thread.State.RUNNABLE) return true;
    if (s.stuckChecks < RUNNABLE_CHECKS) return false;
    long now = cpuNanos(w);
    if (now < 0 || s.cpuNanos < 0) return true;   // no CPU clock: as before, stuck is blocked
    long used = now - s.cpuNanos;
    return used >= 0 && used * 20 < (s.stuckChecks - 2) * WATCH_NANOS;
  }

  /** The worker thread's CPU time in ns, or -1 where the JVM cannot tell. */
  private long cpuNanos(Worker w) {
    if (threads == null) threads = ManagementFactory.getThreadMXBean();
    return threads.isThreadCpuTimeSupported() ? threads.getThreadCpuTime(w.threadId()) : -1;
  }
}
