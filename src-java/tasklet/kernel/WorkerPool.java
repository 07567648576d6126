package tasklet.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
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
 * Homes
 * -----
 * A continuation tasklet that has run on a worker is homed there and always
 * resumes there. Why: C2 treats Thread.currentThread() as unchanged across a
 * call, so a compiled frame that read it before a yield may reuse the old
 * carrier after resuming on another one (the JDK guards only its own virtual
 * threads against this, with @ChangesCurrentThread). Measured on Temurin 25: a
 * tasklet resumed on another worker saw the previous worker's current tasklet,
 * and Clojure's binding frames, being ThreadLocals, are exposed the same way.
 * Resuming on the home worker makes every thread-derived value a frame saw
 * before the yield still true after it.
 *
 * Run queues
 * ----------
 * Per worker: a next slot (the tasklet the running one just woke: a
 * request/reply pair runs back to back, Go's runnext), an owner-only deque of
 * homed tasklets, an inbox of homed tasklets woken by other threads (it
 * joins the back of the deque whenever the deque is served, so a woken
 * tasklet never waits behind one that keeps yielding; doc/adr/0007), and a
 * stealable ring of tasklets that never ran, with an overflow queue behind it
 * and an arrivals queue of new tasklets that plain threads placed here.
 * A worker takes from next at most NEXT_STREAK times in a row before serving
 * the rest, so a ping-pong pair cannot starve its neighbours; after every
 * FRESH_EVERY homed tasklets from the deque it runs one of its new ones, so
 * a new tasklet is neither starved by busy homed ones nor left waiting long
 * enough for a thief to take it (which would split a group of tasklets that
 * talk to each other across workers for life; doc/adr/0009); a global queue
 * takes a retiring worker's new tasklets, and is checked first every 61st
 * slice.
 *
 * Stealing
 * --------
 * Only never-run tasklets move between workers, and a spawner's worker keeps
 * its new tasklets while it gets to them in time. A worker with nothing of
 * its own becomes "spinning" and takes about half of another worker's new
 * tasklets only when the watchdog flagged that worker (slow: one slice
 * running for two samples; backlogged: a new tasklet queued before one
 * sample still waited at the next), one piece per flag; so fanned-out work
 * spreads within a period or two (2-4 ms). Why not Go's steal-anything: a
 * cross-worker hop costs an OS wake-up (about 20 us on a VM), and homes
 * cannot be rebalanced
 * later, so a ring or pipeline spawned from one tasklet and split one tasklet
 * at a time among workers pays that on every message (measured: a 10,000
 * ring at 0.9-5M hops/s depending on the split, 6M+ kept on one worker).
 * Spawns from outside (a plain thread) made in quick succession go to one
 * worker's arrivals queue, as a tasklet's go to its own worker, and a burst
 * starts on the least loaded worker ({@link OutsideSpawns}). At most half of
 * the busy workers spin at once; the last spinner to find work wakes another
 * idle worker, so parallelism ramps up one worker at a time (Go's wakep
 * rule). Spreading happens at spawn; a
 * home is for life (doc/adr/0002 and 0003).
 *
 * Parking
 * -------
 * A worker that found nothing first polls for its work for idleSpinNanos
 * (100 us by default), yielding the CPU between looks, and parks only then.
 * Why: on a virtual machine a parked thread's CPU halts, and waking a thread
 * on a halted CPU costs about 20 us (measured here: a park/unpark round trip
 * between two threads costs 41 us, 5 us when both share one CPU); a remote
 * request/reply wakes a worker on each side. A worker still polling needs no
 * wake-up, and Thread.yield gives its CPU to any thread that wants it (the
 * event loop, another process), so only an otherwise idle CPU is spent.
 * Erlang's schedulers busy-wait before sleeping the same way (+sbwt).
 * Measured: remote ping-pong (bench W5) 11.9k to 28-30k round trips/s.
 * Then it registers as idle, issues a full fence and looks
 * at its own queues and every stealable queue once more before it parks; a
 * submitter publishes, issues a full fence and then wakes a worker: the home
 * worker for a homed tasklet, any idle one for a new tasklet. The two sides
 * form a Dekker pair, so no submission is left with its worker asleep. A hand-off
 * to the running worker's next slot wakes nobody.
 *
 * Compensation
 * ------------
 * A tasklet may block its worker (Thread/sleep, I/O, a lock, a pinned
 * continuation). The {@link Watchdog} samples each worker's slice counter
 * every 2 ms; a worker stuck on one slice for 5 samples, not computing,
 * while stealable work waits gets a compensating worker (Go's sysmon), which
 * runs new tasklets and everything homed on it. Tasklets homed on the stuck
 * worker wait for it. A surplus worker retires once nothing is homed on it
 * any more.
 * </pre>
 */
public final class WorkerPool implements Scheduler {
  private static final int NEXT_STREAK = 64;
  private static final int FRESH_EVERY = 8;
  private static final int INBOX_BATCH = 256;
  private static final int SPIN_ROUNDS = 4;
  private static final int GLOBAL_BATCH = 32;
  private static final int GLOBAL_EVERY = 61;
  private static final VarHandle IDLE, SCHEDTICK;
  static {
    try {
      MethodHandles.Lookup l = MethodHandles.privateLookupIn(Worker.class, MethodHandles.lookup());
      IDLE = l.findVarHandle(Worker.class, "idle", int.class);
      SCHEDTICK = l.findVarHandle(Worker.class, "schedtick", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int parallelism;
  private final long idleSpinNanos;
  private final int maxWorkers;
  private volatile Worker[] workers = new Worker[0];  // copy-on-write under this
  private final ConcurrentLinkedQueue<Tasklet> global = new ConcurrentLinkedQueue<>();
  private final OutsideSpawns outside = new OutsideSpawns(this);
  private volatile int period;   // watchdog periods so far: the watchdog writes, spawners read
  private final ConcurrentLinkedQueue<Worker> idleWorkers = new ConcurrentLinkedQueue<>();
  private final AtomicInteger nIdle = new AtomicInteger();
  private final AtomicInteger nSpinning = new AtomicInteger();
  private final AtomicInteger ids = new AtomicInteger();
  private final LongAdder steals = new LongAdder();
  private final LongAdder wakeups = new LongAdder();
  private final LongAdder compensations = new LongAdder();
  private final LongAdder retirements = new LongAdder();
  private final Thread watchdog;
  private volatile boolean shutdown;

  /**
   * A pool of {@code parallelism} workers, growing to at most
   * {@code maxWorkers} while some are blocked. {@code housekeeping} runs on the
   * watchdog thread about every 100 ms.
   */
  public WorkerPool(int parallelism, int maxWorkers, Runnable housekeeping) {
    this(parallelism, maxWorkers, 100_000L, housekeeping);
  }

  /**
   * A pool as above whose idle workers poll for work for {@code idleSpinNanos}
   * before they park (0: park at once; see Parking).
   */
  public WorkerPool(int parallelism, int maxWorkers, long idleSpinNanos, Runnable housekeeping) {
    if (parallelism < 1) throw new IllegalArgumentException("parallelism must be >= 1");
    if (idleSpinNanos < 0) throw new IllegalArgumentException("idleSpinNanos must be >= 0");
    this.idleSpinNanos = idleSpinNanos;
    this.parallelism = parallelism;
    this.maxWorkers = Math.max(parallelism, maxWorkers);
    for (int i = 0; i < parallelism; i++) addWorker();
    watchdog = new Thread(new Watchdog(this, housekeeping), "tasklet-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }

  // ---- submission ------------------------------------------------------------

  @Override public void submit(Tasklet t, boolean handoff) {
    Worker home = t.home();
    Thread cur = Thread.currentThread();
    if (home == null) {                      // never ran: not homed yet
      if (cur instanceof Worker w && w.pool == this) {
        w.fresh.put(t, w.overflow);
        // no wake-up: the spawner's worker runs its own new tasklets, unless
        // the watchdog flags it slow or backlogged (see Stealing)
        if (w.slow) {
          VarHandle.fullFence();
          wakeOne();
        }
      } else {
        placeFromOutside(t);
      }
    } else if (cur == home) {                // woken by a tasklet on its own home worker
      if (handoff) {
        Worker.Slots sl = home.slots;
        if (sl.next != null) home.local.add(sl.next);
        sl.next = t;
      } else {
        home.local.add(t);
      }
    } else {                                 // woken from elsewhere: its home runs it
      home.inbox.offer(t);
      VarHandle.fullFence();
      wakeIfIdle(home);
    }
  }

  /**
   * A new tasklet spawned by a thread outside the pool: to the arrivals of the
   * worker its thread's burst of spawns goes to (OutsideSpawns), which a
   * parked worker is woken for.
   */
  private void placeFromOutside(Tasklet t) {
    Worker to = outside.place();
    if (to == null) {                        // no worker to take it (shutting down)
      global.offer(t);
      VarHandle.fullFence();
      wakeOne();
      return;
    }
    to.arrive(t);
    VarHandle.fullFence();                   // pairs with park's and retireIfSurplus's fences
    if (to.retired) {                        // it left the pool after it was chosen
      Tasklet a;
      while ((a = to.pollArrival()) != null) global.offer(a);
      VarHandle.fullFence();
      wakeOne();
    } else {
      wakeIfIdle(to);
    }
  }

  private void wakeIfIdle(Worker w) {
    if (w.idle == Worker.IDLE && IDLE.compareAndSet(w, Worker.IDLE, Worker.ACTIVE)) {
      nIdle.decrementAndGet();
      wakeups.increment();
      LockSupport.unpark(w);
    }
  }

  /** Watchdog periods so far (OutsideSpawns' clock). Any thread. */
  int period() { return period; }

  /** One more watchdog period has passed. The watchdog only. */
  void periodPassed() { period = period + 1; }

  void wakeOne() {
    if (nIdle.get() == 0 || nSpinning.get() != 0) return;
    if (!nSpinning.compareAndSet(0, 1)) return;
    Worker w;
    while ((w = idleWorkers.poll()) != null) {
      // the spinning token travels with this cas: the woken worker counts as spinning
      if (IDLE.compareAndSet(w, Worker.IDLE, Worker.WOKEN)) {
        nIdle.decrementAndGet();
        wakeups.increment();
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
      if (t == null) {
        if (w.homed == 0 && retireIfSurplus(w)) return;
        continue;
      }
      ContinuationStrand.Cont c = (ContinuationStrand.Cont) t.carrier;
      if (c.home == null) {
        c.home = w;
        w.homed++;
      }
      Worker.Slots sl = w.slots;
      sl.current = t;
      w.slices++;
      SCHEDTICK.setRelease(w, w.schedtick + 1);   // the watchdog needs it soon, not fenced
      boolean again;
      try {
        again = ContinuationStrand.runSlice(t);
      } catch (Throwable e) {
        System.getLogger("tasklet").log(System.Logger.Level.ERROR, "kernel error running " + t, e);
        again = false;
      }
      sl.current = null;
      if ((w.slices & (Worker.SLOTS_RENEW - 1)) == 0) w.renewSlots();
      if (w.slow) w.slow = false;
      if (again) w.local.add(t);
      if (w.compensated) w.compensated = false;
      if (w.homed == 0 && !w.hasOwnWork() && retireIfSurplus(w)) return;
    }
  }

  /** A homed tasklet ended. Its home worker only. */
  static void homedEnded(Tasklet t) {
    Worker w = t.home();
    if (w != null) w.homed--;
  }

  private Tasklet findRunnable(Worker w) {
    for (;;) {
      if (shutdown) return null;
      Tasklet t = null;
      if (w.schedtick % GLOBAL_EVERY == 0) t = global.poll();
      if (t == null) t = pollOwn(w);
      if (t == null) t = pollGlobal(w);
      if (t == null) t = steal(w);
      if (t != null) {
        if (w.spinning) stopSpinning(w);
        return t;
      }
      if (!park(w)) return null;
    }
  }

  /**
   * Take one tasklet from the global queue and move a fair share of the rest
   * (at most GLOBAL_BATCH) to this worker's fresh ring, so that a retiring
   * worker's new tasklets are not taken one contended poll at a time.
   */
  private Tasklet pollGlobal(Worker w) {
    Tasklet t = global.poll();
    if (t == null) return null;
    int share = Math.min(GLOBAL_BATCH, RunQueue.CAPACITY / 2 - w.fresh.size());
    for (int i = 0; i < share; i++) {
      Tasklet more = global.poll();
      if (more == null) break;
      w.fresh.put(more, global);
    }
    return t;
  }

  private Tasklet pollOwn(Worker w) {
    Worker.Slots sl = w.slots;
    Tasklet t = sl.next;
    if (t != null && w.nextStreak < NEXT_STREAK) {
      sl.next = null;
      w.nextStreak++;
      return t;
    }
    w.nextStreak = 0;
    // tasklets woken from other threads join the back of the local queue
    // before it is served: served only once local ran dry, one of them could
    // wait for as long as a local tasklet kept yielding (measured: a fan-in
    // receiver woken from the other worker waited behind a yielding sender
    // for a whole sender's run while its mailbox grew by 5M messages/s)
    // but only as many as keep local at INBOX_BATCH (at least one a turn, so
    // the inbox drains however many yield): moved all at once, a burst of
    // wakes from a plain thread (bench W1: a million) grew local's array to
    // megabytes, a humongous allocation that starts a G1 concurrent cycle when
    // the old generation is full of waiting tasklets (doc/adr/0011, session 5)
    int room = Math.max(1, INBOX_BATCH - w.local.size());
    while (room-- > 0 && (t = w.inbox.poll()) != null) {
      w.local.add(t);
      w.fromInbox++;
    }
    // a new tasklet gets a turn every FRESH_EVERY homed ones: served only
    // once local ran dry, it waited for as long as its spawner's worker
    // stayed busy (forever with one worker), and a wait of one watchdog
    // period let a thief take it, homing part of a many-to-many group on the
    // other worker for life (Savina Big: one of 120 actors stolen cost 40%;
    // doc/adr/0009)
    // and every other turn while some were queued before the watchdog's last
    // sample: those flag this worker backlogged at the next one (a thief then
    // takes half) unless they start first. A group spawned from a plain
    // thread, such as a fan-in receiver and four senders each sending for
    // hundreds of slices, took 8 sender slices a start, longer than a period,
    // and lost its last sender to the other worker (doc/adr/0009)
    int every = w.startsLate() ? 1 : FRESH_EVERY;
    if (w.sinceFresh >= every && (t = pollFresh(w)) != null) return t;
    if ((t = w.local.poll()) != null) {
      w.sinceFresh++;
      return t;
    }
    if ((t = pollFresh(w)) != null) return t;
    if ((t = sl.next) != null) sl.next = null;
    return t;
  }

  private static Tasklet pollFresh(Worker w) {
    w.sinceFresh = 0;
    Tasklet t = w.fresh.pollRing();
    if (t == null) t = w.overflow.poll();
    return t != null ? t : w.pollArrival();
  }

  private Tasklet steal(Worker w) {
    Worker[] ws = workers;
    if (!w.spinning) {
      if (2 * nSpinning.get() >= ws.length - nIdle.get()) return null;
      w.spinning = true;
      nSpinning.incrementAndGet();
    }
    for (int round = 0; round < SPIN_ROUNDS; round++) {
      int n = ws.length, start = ThreadLocalRandom.current().nextInt(n);
      for (int i = 0; i < n; i++) {
        Worker v = ws[(start + i) % n];
        if (v == w) continue;
        Tasklet t = stealFrom(w, v);
        if (t != null) {
          steals.increment();
          return t;
        }
      }
      Tasklet t = pollGlobal(w);
      if (t != null) return t;
      if (w.hasOwnWork()) return pollOwn(w);
      Thread.onSpinWait();
    }
    return null;
  }

  /**
   * New tasklets of v, taken only when the watchdog flagged v as not getting
   * to them: slow (one slice running for two samples) or backlogged (a new
   * tasklet queued before one sample still waited at the next). Then about
   * half of them move at once and the flag is spent, so a chain of spawns
   * moves in a few large pieces rather than one tasklet at a time: every
   * neighbour on another worker would cost an OS wake-up per message later.
   */
  private Tasklet stealFrom(Worker w, Worker v) {
    if (!v.lendsNewWork()) return null;
    Tasklet t = v.fresh.stealInto(w.fresh, 1);
    if (t == null) t = takeSome(w, v.overflow, null);
    if (t == null) t = takeSome(w, v.arrivals, v.taken);
    if (t != null) {
      v.backlogged = false;   // the next piece waits for the next sample
      v.slow = false;
    }
    return t;
  }

  /**
   * One tasklet of another worker's queue q to run, and a share of the rest
   * moved to w's ring; what was taken is added to {@code taken} (when not null).
   */
  private static Tasklet takeSome(Worker w, ConcurrentLinkedQueue<Tasklet> q, AtomicInteger taken) {
    Tasklet t = q.poll();
    if (t == null) return null;
    int n = 1;
    int share = Math.min(GLOBAL_BATCH * 4, RunQueue.CAPACITY / 2 - w.fresh.size());
    for (; n <= share; n++) {
      Tasklet more = q.poll();
      if (more == null) break;
      w.fresh.put(more, w.overflow);
    }
    if (taken != null) taken.addAndGet(n);
    return t;
  }

  private void stopSpinning(Worker w) {
    w.spinning = false;
    if (nSpinning.decrementAndGet() == 0) wakeOne();  // ramp up: let another look too
  }

  /** Park until woken; false when this worker should rather retire. */
  private boolean park(Worker w) {
    if (w.spinning) {
      w.spinning = false;
      nSpinning.decrementAndGet();
    }
    if (w.homed == 0 && workers.length > parallelism) return false;
    if (idleSpinNanos > 0) {
      long deadline = System.nanoTime() + idleSpinNanos;
      do {
        if (hasWorkFor(w)) return true;
        w.spinYields++;
        Thread.yield();
      } while (System.nanoTime() - deadline < 0);
    }
    w.idle = Worker.IDLE;
    idleWorkers.offer(w);
    nIdle.incrementAndGet();
    VarHandle.fullFence();  // pairs with the fence in submit()
    if (hasWorkFor(w)
        && IDLE.compareAndSet(w, Worker.IDLE, Worker.ACTIVE)) {
      nIdle.decrementAndGet();
      idleWorkers.remove(w);
      return true;
    }
    w.parks++;
    while (w.idle == Worker.IDLE && !shutdown) LockSupport.park(this);
    if (w.idle == Worker.WOKEN) w.spinning = true;   // the waker counted us in nSpinning
    w.idle = Worker.ACTIVE;
    return true;
  }

  /** Whether w has anything to do: its own work, stealable work, or shutting down. */
  private boolean hasWorkFor(Worker w) {
    return w.hasOwnWork() || w.hasNewWork() || hasStealableWork() || shutdown;
  }

  boolean hasStealableWork() {
    if (!global.isEmpty()) return true;
    for (Worker v : workers) if (v.lendsNewWork()) return true;
    return false;
  }

  // ---- compensation ------------------------------------------------------------

  /** The workers now (copy-on-write: never modified). Any thread. */
  Worker[] workers() { return workers; }

  boolean isShutdown() { return shutdown; }

  /** Start a compensating worker for a blocked one (the watchdog's call). */
  void compensate() {
    if (addWorker()) compensations.increment();
  }

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
    if (workers.length <= parallelism) return false;   // the usual case: no lock on every slice
    synchronized (this) {
      Worker[] ws = workers;
      if (ws.length <= parallelism || w.homed != 0 || w.hasOwnWork()) return false;
      Worker[] out = new Worker[ws.length - 1];
      int k = 0;
      for (Worker v : ws) if (v != w) out[k++] = v;
      workers = out;
    }
    w.retired = true;
    VarHandle.fullFence();   // pairs with placeFromOutside's: its arrival is drained here or there
    Tasklet t;
    while ((t = w.fresh.pollRing()) != null) global.offer(t);
    while ((t = w.overflow.poll()) != null) global.offer(t);
    while ((t = w.pollArrival()) != null) global.offer(t);
    retirements.increment();
    VarHandle.fullFence();
    wakeOne();
    return true;
  }

  // ---- observability -------------------------------------------------------------

  @Override public SchedulerStats stats() {
    Worker[] ws = workers;
    int[] lengths = new int[ws.length];
    for (int i = 0; i < ws.length; i++) lengths[i] = ws[i].fresh.size() + ws[i].local.size() + ws[i].inbox.size() + ws[i].arrivals.size();
    return new SchedulerStats(parallelism, ws.length, lengths, global.size(), nIdle.get(),
        steals.sum(), wakeups.sum(), compensations.sum(), retirements.sum(), null);
  }

  @Override public void shutdown() {
    shutdown = true;
    for (Worker w : workers) LockSupport.unpark(w);
    watchdog.interrupt();
  }
}
