package tasklet.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The kernel's scheduler for continuation tasklets.
 *
 * <pre>
 * Implementation Overview
 * =======================
 *
 * Run queues
 * ----------
 * One worker thread per core (the parallelism), each with a local RunQueue: a
 * 256-slot ring plus a "next" slot. A tasklet woken by a message from a
 * tasklet goes to the waker's next slot, so a request/reply pair stays on one
 * worker (Go's runnext); a worker takes from next at most NEXT_STREAK times in
 * a row before it serves its ring, so a ping-pong pair cannot starve the rest.
 * New tasklets and requeued ones go to the ring's tail; overflow and
 * submissions from other threads go to the global queue, which a worker checks
 * first every 61st slice so that it is never starved either.
 *
 * Stealing
 * --------
 * A worker with nothing to run becomes "spinning" and steals half of another
 * worker's ring (the next slot only on the last round). At most half of the
 * busy workers spin at once. The last spinner to find work wakes another idle
 * worker, so parallelism ramps up one worker at a time (Go's wakep rule).
 *
 * Parking
 * -------
 * A worker that found nothing drops spinning, registers as idle, issues a full
 * fence and looks at every queue once more before it parks; a submitter pushes,
 * issues a full fence and then looks for an idle worker to wake. The two form a
 * Dekker pair, so no submission is left with every worker asleep. A hand-off to
 * the next slot wakes nobody: the waker is about to wait for the answer.
 *
 * Compensation
 * ------------
 * A tasklet may block its worker (Thread/sleep, I/O, a lock, a pinned
 * continuation). A watchdog thread samples each worker's slice counter every
 * WATCH_NANOS: a worker on the same slice for two samples with work queued
 * behind it has its next slot moved to the global queue and an idle worker
 * woken; one stuck for STUCK_CHECKS samples while work waits anywhere gets a
 * compensating worker (Go's sysmon retaking a P from a syscall). When the
 * stuck worker comes back and the pool is above its parallelism, it retires:
 * it hands its queue to the global queue and ends.
 * </pre>
 */
public final class WorkerPool implements Scheduler {
  private static final int NEXT_STREAK = 64;
  private static final int GLOBAL_EVERY = 61;
  private static final long WATCH_NANOS = 2_000_000L;
  private static final int STUCK_CHECKS = 5;
  private static final VarHandle IDLE;
  static {
    try {
      IDLE = MethodHandles.privateLookupIn(Worker.class, MethodHandles.lookup())
          .findVarHandle(Worker.class, "idle", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int parallelism;
  private final int maxWorkers;
  private volatile Worker[] workers = new Worker[0];  // copy-on-write under this
  private final ConcurrentLinkedQueue<Tasklet> global = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Worker> idleWorkers = new ConcurrentLinkedQueue<>();
  private final AtomicInteger nIdle = new AtomicInteger();
  private final AtomicInteger nSpinning = new AtomicInteger();
  private final AtomicInteger ids = new AtomicInteger();
  private final LongAdder steals = new LongAdder();
  private final LongAdder compensations = new LongAdder();
  private final LongAdder retirements = new LongAdder();
  private final Runnable housekeeping;
  private final Thread watchdog;
  private volatile boolean shutdown;

  /**
   * A pool of {@code parallelism} workers, growing to at most
   * {@code maxWorkers} while some are blocked. {@code housekeeping} runs on the
   * watchdog thread about every 100 ms.
   */
  public WorkerPool(int parallelism, int maxWorkers, Runnable housekeeping) {
    if (parallelism < 1) throw new IllegalArgumentException("parallelism must be >= 1");
    this.parallelism = parallelism;
    this.maxWorkers = Math.max(parallelism, maxWorkers);
    this.housekeeping = housekeeping;
    for (int i = 0; i < parallelism; i++) addWorker();
    watchdog = new Thread(this::watch, "tasklet-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }

  // ---- submission ------------------------------------------------------------

  @Override public void submit(Tasklet t, boolean handoff) {
    if (Thread.currentThread() instanceof Worker w && w.pool == this) {
      if (handoff) {
        w.queue.putNext(t, global);
        return;
      }
      w.queue.put(t, global);
    } else {
      global.offer(t);
    }
    VarHandle.fullFence();  // pairs with the fence in park(): publish the work, then look for sleepers
    wakeOne();
  }

  private void wakeOne() {
    if (nIdle.get() == 0 || nSpinning.get() != 0) return;
    if (!nSpinning.compareAndSet(0, 1)) return;
    Worker w;
    while ((w = idleWorkers.poll()) != null) {
      if (IDLE.compareAndSet(w, true, false)) {
        nIdle.decrementAndGet();
        w.spinning = true;
        LockSupport.unpark(w);
        return;
      }
    }
    nSpinning.decrementAndGet();
  }

  // ---- the worker loop ---------------------------------------------------------

  void loop(Worker w) {
    while (!shutdown) {
      Tasklet t = findRunnable(w);
      if (t == null) continue;
      w.current = t;
      w.schedtick = w.schedtick + 1;
      boolean again;
      try {
        again = ContinuationStrand.runSlice(t);
      } catch (Throwable e) {
        System.getLogger("tasklet").log(System.Logger.Level.ERROR, "kernel error running " + t, e);
        again = false;
      }
      w.current = null;
      if (again) w.queue.put(t, global);
      if (w.compensated) {
        w.compensated = false;
        if (retireIfSurplus(w)) return;
      }
    }
  }

  private Tasklet findRunnable(Worker w) {
    for (;;) {
      if (shutdown) return null;
      Tasklet t = null;
      if (w.schedtick % GLOBAL_EVERY == 0) t = global.poll();
      if (t == null) t = pollLocal(w);
      if (t == null) t = global.poll();
      if (t == null) t = steal(w);
      if (t != null) {
        if (w.spinning) stopSpinning(w);
        return t;
      }
      park(w);
    }
  }

  private Tasklet pollLocal(Worker w) {
    Tasklet t;
    if (w.nextStreak < NEXT_STREAK && (t = w.queue.pollNext()) != null) {
      w.nextStreak++;
      return t;
    }
    w.nextStreak = 0;
    if ((t = w.queue.pollRing()) != null) return t;
    return w.queue.pollNext();
  }

  private Tasklet steal(Worker w) {
    Worker[] ws = workers;
    if (!w.spinning) {
      if (2 * nSpinning.get() >= ws.length - nIdle.get()) return null;
      w.spinning = true;
      nSpinning.incrementAndGet();
    }
    for (int round = 0; round < 4; round++) {
      int n = ws.length, start = ThreadLocalRandom.current().nextInt(n);
      for (int i = 0; i < n; i++) {
        Worker v = ws[(start + i) % n];
        if (v == w) continue;
        Tasklet t = v.queue.stealInto(w.queue, round == 3);
        if (t != null) {
          steals.increment();
          return t;
        }
      }
      Tasklet t = global.poll();
      if (t != null) return t;
      Thread.onSpinWait();
    }
    return null;
  }

  private void stopSpinning(Worker w) {
    w.spinning = false;
    if (nSpinning.decrementAndGet() == 0) wakeOne();  // ramp up: let another look too
  }

  private void park(Worker w) {
    if (w.spinning) {
      w.spinning = false;
      nSpinning.decrementAndGet();
    }
    w.idle = true;
    idleWorkers.offer(w);
    nIdle.incrementAndGet();
    VarHandle.fullFence();  // pairs with the fence in submit()
    if (hasWork() || shutdown) {
      if (IDLE.compareAndSet(w, true, false)) {
        nIdle.decrementAndGet();
        idleWorkers.remove(w);
      }
      return;
    }
    while (w.idle && !shutdown) LockSupport.park(this);
  }

  private boolean hasWork() {
    if (!global.isEmpty()) return true;
    for (Worker v : workers) if (v.queue.hasWork()) return true;
    return false;
  }

  // ---- compensation ------------------------------------------------------------

  private synchronized boolean addWorker() {
    if (shutdown || workers.length >= maxWorkers) return false;
    Worker w = new Worker(this, ids.incrementAndGet());
    Worker[] ws = Arrays.copyOf(workers, workers.length + 1);
    ws[ws.length - 1] = w;
    workers = ws;
    w.start();
    return true;
  }

  private boolean retireIfSurplus(Worker w) {
    synchronized (this) {
      Worker[] ws = workers;
      if (ws.length <= parallelism) return false;
      Worker[] out = new Worker[ws.length - 1];
      int k = 0;
      for (Worker v : ws) if (v != w) out[k++] = v;
      workers = out;
    }
    Tasklet t;
    while ((t = w.queue.pollNext()) != null || (t = w.queue.pollRing()) != null) global.offer(t);
    retirements.increment();
    VarHandle.fullFence();
    wakeOne();
    return true;
  }

  private void watch() {
    long rounds = 0;
    while (!shutdown) {
      LockSupport.parkNanos(WATCH_NANOS);
      boolean pending = hasWork();
      for (Worker w : workers) {
        int tick = w.schedtick;
        if (w.current == null || tick != w.seenTick) {
          w.seenTick = tick;
          w.stuckChecks = 0;
          continue;
        }
        w.stuckChecks++;
        if (w.stuckChecks >= 2 && w.queue.hasWork()) {
          Tasklet t = w.queue.stealNext();
          if (t != null) global.offer(t);
          wakeOne();
        }
        if (w.stuckChecks >= STUCK_CHECKS && pending && !w.compensated) {
          w.compensated = true;
          if (addWorker()) compensations.increment();
        }
      }
      if (++rounds % 50 == 0 && housekeeping != null) {
        try {
          housekeeping.run();
        } catch (Throwable e) {
          System.getLogger("tasklet").log(System.Logger.Level.WARNING, "housekeeping failed", e);
        }
      }
    }
  }

  // ---- observability -------------------------------------------------------------

  @Override public Map<String, Object> stats() {
    Map<String, Object> m = new LinkedHashMap<>();
    Worker[] ws = workers;
    int[] lengths = new int[ws.length];
    for (int i = 0; i < ws.length; i++) lengths[i] = ws[i].queue.size();
    m.put("parallelism", parallelism);
    m.put("workers", ws.length);
    m.put("run-queue-lengths", lengths);
    m.put("global-queue-length", global.size());
    m.put("idle-workers", nIdle.get());
    m.put("steals", steals.sum());
    m.put("compensations", compensations.sum());
    m.put("retirements", retirements.sum());
    return m;
  }

  @Override public void shutdown() {
    shutdown = true;
    for (Worker w : workers) LockSupport.unpark(w);
    watchdog.interrupt();
  }
}
